/**
 * EntraAgentId: tokens from Microsoft Entra for a service whose certificate Rollover rotates —
 * cached, refreshed ahead of expiry, and carried through a certificate change without a restart.
 */
import { buildClientAssertion, tokenEndpoint } from "./assertion.js";
import {
  type AuthorityOptions,
  acquireByAssertion,
  acquireByCertificate,
  acquireByManagedIdentity,
  acquireBySecret,
  acquireExchangeToken,
  type BlueprintCredential,
  KeyVaultSource,
  managedIdentityAssertion,
  TOKEN_EXCHANGE_SCOPE,
} from "./azure.js";
import {
  type CertificateInfo,
  type LocalCertificate,
  parseCertificatePem,
  readCertificateFileSync,
} from "./certificate.js";
import { aadstsOf, describe, EntraAgentIdError, isCertificateError } from "./errors.js";
import {
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_SCOPE,
  type EntraAgentIdOptions,
  type ParsedOptions,
  parseOptions,
} from "./options.js";
import {
  type CertificateSource,
  FileSource,
  fromLocal,
  type LoadedCertificate,
  StaticSource,
} from "./sources.js";
import { type AcquiredToken, TokenCache } from "./token-cache.js";

const DEFAULT_POLL_MS = 60_000;
const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 300_000;

type Kind = "certificatePath" | "certificate" | "keyVaultCertificate" | "clientSecret" | "managedIdentity";

export class EntraAgentId {
  private readonly o: ParsedOptions;
  private readonly kind: Kind;
  private readonly now: () => number;
  private readonly authority: AuthorityOptions;
  private readonly defaultScopes: string[];
  private readonly cache: TokenCache;
  /** The agent identity exchange token (leg 1), when agentIdentity is set. */
  private readonly exchangeCache: TokenCache | undefined;
  private readonly firstLocal: LocalCertificate | undefined;
  private sourcePromise: Promise<CertificateSource> | undefined;
  private source: CertificateSource | undefined;
  private closed = false;
  private lastErr: Error | undefined;

  /**
   * Validates the options at once: an unknown option, a missing or unreadable certificate file, a
   * PEM without a private key or with a key that does not match throw `EntraAgentIdError`.
   */
  constructor(options: EntraAgentIdOptions) {
    this.o = parseOptions(options);
    const o = this.o;
    this.kind = (
      ["certificatePath", "certificate", "keyVaultCertificate", "clientSecret", "managedIdentity"] as const
    ).find((k) => o[k] !== undefined) as Kind;
    this.now = o.now ?? Date.now;
    this.authority = { authorityHost: (o.authorityHost ?? DEFAULT_AUTHORITY_HOST).replace(/\/+$/, "") };
    this.defaultScopes = toScopes(o.scopes) ?? [DEFAULT_SCOPE];
    if (o.certificatePath !== undefined) this.firstLocal = readCertificateFileSync(o.certificatePath);
    if (o.certificate !== undefined)
      this.firstLocal = parseCertificatePem(o.certificate, "Option 'certificate'", "inline");
    const onBackgroundError = (e: Error) => this.backgroundError(e);
    const refreshBeforeExpiryMs = o.refreshBeforeExpiryMs ?? DEFAULT_REFRESH_BEFORE_EXPIRY_MS;
    this.cache = new TokenCache({
      acquire: (scopes) => this.acquire(scopes),
      now: this.now,
      refreshBeforeExpiryMs,
      onBackgroundError,
      ...(o.scheduler ? { scheduler: o.scheduler } : {}),
    });
    if (o.agentIdentity)
      this.exchangeCache = new TokenCache({
        acquire: () => this.acquireExchange(),
        now: this.now,
        refreshBeforeExpiryMs,
        ...(o.scheduler ? { scheduler: o.scheduler } : {}),
      });
  }

  /** An access token for `scopes` (default: the `scopes` option, else Microsoft Graph). */
  async getToken(scopes?: string | string[]): Promise<string> {
    return (await this.cache.get(this.scopesOf(scopes))).token;
  }

  /** `Bearer <token>`, for an `Authorization` header. */
  async getAuthHeader(scopes?: string | string[]): Promise<string> {
    return `Bearer ${await this.getToken(scopes)}`;
  }

  /**
   * Refresh cached tokens in the background, ahead of expiry, so that `getToken` never waits for
   * Entra. The timer does not keep the process alive. A failure is kept and surfaced by the next
   * `getToken` for those scopes (which retries first).
   */
  enableAutoRefresh(on: boolean): void {
    this.assertOpen();
    this.cache.enableAutoRefresh(on);
  }

  /**
   * Re-acquire a cached token at the latest `ms` after it was acquired, even when it is valid for
   * longer (tokens are also refreshed ahead of their expiry). `0` or a negative value: by lifetime only.
   */
  setRefreshInterval(ms: number): void {
    if (typeof ms !== "number" || !Number.isFinite(ms))
      throw new EntraAgentIdError(
        "invalid_options",
        "setRefreshInterval(ms) takes a number of milliseconds, e.g. 3_300_000",
      );
    this.cache.setRefreshInterval(ms > 0 ? ms : undefined);
  }

  /** The certificate in use (public facts only), once the first token was requested; undefined for secrets and managed identity. */
  get certificate(): CertificateInfo | undefined {
    return this.source?.current.info ?? this.firstLocal?.info;
  }

  /** The last background failure (auto refresh, certificate reload), if any. */
  get lastError(): Error | undefined {
    return this.lastErr;
  }

  /** Stops timers and watchers. Further calls fail with code `closed`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.close();
    this.exchangeCache?.close();
    const s = this.source ?? (await this.sourcePromise?.catch(() => undefined));
    s?.close();
  }

  // --- internals ---------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new EntraAgentIdError("closed", "EntraAgentId is closed: create a new instance");
  }

  private scopesOf(scopes: string | string[] | undefined): string[] {
    const s = toScopes(scopes) ?? this.defaultScopes;
    if (s.length === 0)
      throw new EntraAgentIdError(
        "invalid_options",
        "getToken(scopes): give at least one scope, e.g. https://graph.microsoft.com/.default",
      );
    return s;
  }

  private backgroundError(e: Error): void {
    this.lastErr = e;
    try {
      this.o.onBackgroundError?.(e);
    } catch {
      // A failing listener must not break refresh or reload.
    }
  }

  private certificateSource(): Promise<CertificateSource> | undefined {
    const o = this.o;
    if (this.kind === "clientSecret" || this.kind === "managedIdentity") return undefined;
    this.sourcePromise ??= (async () => {
      const pollIntervalMs = o.certificatePollIntervalMs ?? DEFAULT_POLL_MS;
      const hooks = { onError: (e: Error) => this.backgroundError(e) };
      let s: CertificateSource;
      if (this.kind === "certificatePath")
        s = await FileSource.open(o.certificatePath as string, {
          watch: o.watchCertificateFile ?? true,
          pollIntervalMs,
          ...(this.firstLocal ? { first: this.firstLocal } : {}),
          ...hooks,
        });
      else if (this.kind === "certificate")
        s = new StaticSource(fromLocal(this.firstLocal as LocalCertificate));
      else {
        const kv = o.keyVaultCertificate!;
        s = await KeyVaultSource.open({
          vaultUrl: kv.vaultUrl,
          name: kv.name,
          ...(kv.credential ? { credential: kv.credential } : {}),
          pollIntervalMs,
          ...hooks,
        });
      }
      if (this.closed) s.close();
      this.source = s;
      return s;
    })();
    // A failed first load (Key Vault unreachable) is retried on the next call.
    this.sourcePromise.catch(() => {
      this.sourcePromise = undefined;
    });
    return this.sourcePromise;
  }

  /**
   * Runs `attempt` with the current certificate. When Entra refuses it with a certificate error,
   * reloads the certificate and retries once: with the new certificate if the source changed, else
   * with the previous one (a new version that is not attached yet).
   */
  private async withCertificate(
    attempt: (cert: LoadedCertificate | undefined) => Promise<AcquiredToken>,
    who: string,
  ) {
    const pending = this.certificateSource();
    if (!pending) {
      try {
        return await attempt(undefined);
      } catch (e) {
        throw this.authError(e, who, undefined);
      }
    }
    const source = await pending;
    const first = source.current;
    try {
      return await attempt(first);
    } catch (e) {
      if (!isCertificateError(e)) throw this.authError(e, who, first);
      let changed = false;
      try {
        changed = await source.reload();
      } catch (re) {
        this.backgroundError(re instanceof Error ? re : new Error(describe(re)));
      }
      const next = changed ? source.current : source.previous;
      if (!next || next.identity === first.identity) throw this.authError(e, who, first);
      try {
        return await attempt(next);
      } catch (e2) {
        throw this.authError(e2, who, next);
      }
    }
  }

  private acquire(scopes: string[]): Promise<AcquiredToken> {
    const o = this.o;
    if (o.agentIdentity) return this.acquireAsAgent(scopes);
    const tenantId = o.tenantId as string;
    const clientId = o.clientId as string;
    return this.withCertificate(
      (cert) => {
        switch (this.kind) {
          case "clientSecret":
            return acquireBySecret(tenantId, clientId, o.clientSecret as string, scopes, this.authority);
          case "managedIdentity":
            return acquireByManagedIdentity(this.managedIdentityClientId(), scopes);
          default: {
            const c = cert as LoadedCertificate;
            if (c.local) return acquireByCertificate(tenantId, clientId, c.local.pem, scopes, this.authority);
            return acquireByAssertion(
              tenantId,
              clientId,
              () => this.assertion(c, clientId),
              scopes,
              this.authority,
            );
          }
        }
      },
      `client '${this.kind === "managedIdentity" ? (this.managedIdentityClientId() ?? "managed identity") : clientId}'`,
    );
  }

  /** Leg 2: the agent identity presents the blueprint's exchange token as its client assertion. */
  private async acquireAsAgent(scopes: string[]): Promise<AcquiredToken> {
    const { agentClientId } = this.o.agentIdentity!;
    const tenantId = this.o.tenantId as string;
    const exchange = this.exchangeCache!;
    // Leg 1 first, outside the credential's callback, so its errors reach the caller unwrapped.
    const leg2 = async () => {
      const t1 = (await exchange.get([TOKEN_EXCHANGE_SCOPE])).token;
      return acquireByAssertion(tenantId, agentClientId, async () => t1, scopes, this.authority);
    };
    try {
      return await leg2();
    } catch (e) {
      if (e instanceof EntraAgentIdError) throw e;
      // The exchange token may be stale (expired, or issued before a change): get a new one, once.
      if (!isCertificateError(e) && aadstsOf(e) !== 700211 && aadstsOf(e) !== 700213)
        throw this.authError(e, `agent identity '${agentClientId}'`, undefined);
      exchange.clear();
      try {
        return await leg2();
      } catch (e2) {
        if (e2 instanceof EntraAgentIdError) throw e2;
        throw this.authError(e2, `agent identity '${agentClientId}'`, undefined);
      }
    }
  }

  /** Leg 1: the blueprint's request with `fmi_path`, proven by the configured credential. */
  private acquireExchange(): Promise<AcquiredToken> {
    const { blueprintClientId, agentClientId } = this.o.agentIdentity!;
    const tenantId = this.o.tenantId as string;
    return this.withCertificate((cert) => {
      let credential: BlueprintCredential;
      if (this.kind === "clientSecret")
        credential = { kind: "secret", secret: this.o.clientSecret as string };
      else if (this.kind === "managedIdentity") {
        const mi = this.managedIdentityClientId();
        credential = { kind: "assertion", getAssertion: () => managedIdentityAssertion(mi) };
      } else {
        const c = cert as LoadedCertificate;
        credential = c.local
          ? {
              kind: "certificate",
              thumbprintSha256: c.info.thumbprintSha256,
              privateKeyPem: c.local.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
            }
          : { kind: "assertion", getAssertion: (endpoint) => this.assertion(c, blueprintClientId, endpoint) };
      }
      return acquireExchangeToken(tenantId, blueprintClientId, agentClientId, credential, this.authority);
    }, `agent identity blueprint '${blueprintClientId}'`);
  }

  private assertion(c: LoadedCertificate, clientId: string, endpoint?: string): Promise<string> {
    if (!c.sign) throw new EntraAgentIdError("invalid_certificate", "No signer for the certificate");
    return buildClientAssertion({
      clientId,
      tokenEndpoint: endpoint ?? tokenEndpoint(this.authority.authorityHost, this.o.tenantId as string),
      thumbprintSha256: c.info.thumbprintSha256,
      sign: c.sign,
    });
  }

  private managedIdentityClientId(): string | undefined {
    const mi = this.o.managedIdentity;
    if (typeof mi === "string") return mi;
    return this.o.agentIdentity ? undefined : this.o.clientId;
  }

  private authError(e: unknown, who: string, cert: LoadedCertificate | undefined): Error {
    if (e instanceof EntraAgentIdError) return e;
    const code = aadstsOf(e);
    const thumb = cert ? ` with certificate ${cert.info.thumbprint}` : "";
    return new EntraAgentIdError(
      "authentication_failed",
      `Entra refused a token for ${who}${thumb}: ${detail(e)}${hint(code)}`,
      { cause: e, ...(code !== undefined ? { aadsts: code } : {}) },
    );
  }
}

function toScopes(s: string | string[] | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  return (Array.isArray(s) ? s : s.split(/\s+/)).map((x) => x.trim()).filter(Boolean);
}

/** The Entra error without the trace lines it appends. */
function detail(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const cut = text.split(/\r?\n\s*Trace ID:|\r?\nTrace ID:/)[0] ?? text;
  return describe(new Error(cut.replace(/\s+/g, " ").trim()));
}

function hint(code: number | undefined): string {
  switch (code) {
    case 700027:
    case 7000274:
      return ". Fix: register this certificate in the application's keyCredentials (or point the client at a registered one)";
    case 700024:
    case 500133:
      return ". Fix: check the host's clock";
    case 7000214:
    case 7000277:
      return ". Fix: the certificate is revoked — install a new one";
    case 1000502:
      return ". Fix: the certificate is outside its validity window — install a current one";
    case 7000215:
    case 7000222:
      return ". Fix: use the secret's value (not its id), and check it has not expired";
    case 700016:
    case 90002:
      return ". Fix: check tenantId and clientId";
    default:
      return "";
  }
}
