/**
 * The one file of this library that talks to the Azure SDKs: @azure/identity credentials for each
 * credential kind, Key Vault (the certificate, its versions, `sign`), and MSAL Node for the one
 * request @azure/identity cannot express — the blueprint's `fmi_path` leg of the agent identity
 * exchange (msal-node's `fmiPath` request field). SDK types stop here; the rest of the library
 * sees `AcquiredToken`, `LoadedCertificate` and plain functions.
 */
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from "@azure/identity";
import { CertificateClient, type KeyVaultCertificate } from "@azure/keyvault-certificates";
import { CryptographyClient } from "@azure/keyvault-keys";
import { ConfidentialClientApplication, type Configuration, LogLevel } from "@azure/msal-node";
import type { DigestSigner } from "./assertion.js";
import { certificateInfo } from "./certificate.js";
import { describe, EntraAgentIdError } from "./errors.js";
import type { TokenCredentialLike } from "./options.js";
import type { CertificateSource, LoadedCertificate, ReloadHooks } from "./sources.js";
import type { AcquiredToken } from "./token-cache.js";

export const TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default";

const MICROSOFT_AUTHORITY_HOSTS = [
  "login.microsoftonline.com",
  "login.microsoftonline.us",
  "login.chinacloudapi.cn",
  "login.partner.microsoftonline.cn",
  "login.windows.net",
  "login.microsoft.com",
  "sts.windows.net",
];

const KEY_VAULT_SUFFIXES = [
  ".vault.azure.net",
  ".vault.azure.cn",
  ".vault.usgovcloudapi.net",
  ".vault.microsoftazure.de",
  ".managedhsm.azure.net",
];

export function isMicrosoftAuthority(authorityHost: string): boolean {
  return MICROSOFT_AUTHORITY_HOSTS.includes(new URL(authorityHost).hostname.toLowerCase());
}

export interface AuthorityOptions {
  authorityHost: string;
}

function identityOptions(a: AuthorityOptions) {
  return {
    authorityHost: a.authorityHost,
    // Instance discovery asks login.microsoftonline.com about the authority: only for Microsoft hosts.
    disableInstanceDiscovery: !isMicrosoftAuthority(a.authorityHost),
  };
}

/** A credential's `getToken`, as an `AcquiredToken`. */
async function acquireWith(credential: TokenCredentialLike, scopes: string[]): Promise<AcquiredToken> {
  const t = await credential.getToken(scopes);
  if (!t)
    throw new EntraAgentIdError("authentication_failed", `No token was returned for '${scopes.join(" ")}'`);
  return {
    token: t.token,
    expiresOnTimestamp: t.expiresOnTimestamp,
    ...(t.refreshAfterTimestamp !== undefined ? { refreshAfterTimestamp: t.refreshAfterTimestamp } : {}),
  };
}

/*
 * Each acquisition uses a new credential object: @azure/identity's MSAL layer keeps its own
 * in-memory cache, judged by the process clock, which would answer a refresh that EntraAgentId
 * decided on with the very token it wants to replace. A new credential costs one metadata GET.
 */

export function acquireByCertificate(
  tenantId: string,
  clientId: string,
  pem: string,
  scopes: string[],
  a: AuthorityOptions,
): Promise<AcquiredToken> {
  return acquireWith(
    new ClientCertificateCredential(tenantId, clientId, { certificate: pem }, identityOptions(a)),
    scopes,
  );
}

export function acquireByAssertion(
  tenantId: string,
  clientId: string,
  getAssertion: () => Promise<string>,
  scopes: string[],
  a: AuthorityOptions,
): Promise<AcquiredToken> {
  return acquireWith(
    new ClientAssertionCredential(tenantId, clientId, getAssertion, identityOptions(a)),
    scopes,
  );
}

export function acquireBySecret(
  tenantId: string,
  clientId: string,
  secret: string,
  scopes: string[],
  a: AuthorityOptions,
): Promise<AcquiredToken> {
  return acquireWith(new ClientSecretCredential(tenantId, clientId, secret, identityOptions(a)), scopes);
}

/** `clientId` undefined: the system-assigned (or the platform's default) identity. */
export function acquireByManagedIdentity(
  clientId: string | undefined,
  scopes: string[],
): Promise<AcquiredToken> {
  const credential = clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  return acquireWith(credential, scopes);
}

/** What the blueprint proves itself with in the `fmi_path` leg. */
export type BlueprintCredential =
  | { kind: "certificate"; thumbprintSha256: string; privateKeyPem: string }
  | { kind: "assertion"; getAssertion: (tokenEndpoint: string) => Promise<string> }
  | { kind: "secret"; secret: string };

/**
 * Leg 1 of the agent identity exchange: the blueprint's client-credentials request with
 * `fmi_path` = the agent identity, for `api://AzureADTokenExchange/.default` (entra-docs
 * autonomous-agent-request-tokens.md). MSAL's cache is skipped: EntraAgentId caches.
 */
export async function acquireExchangeToken(
  tenantId: string,
  blueprintClientId: string,
  agentClientId: string,
  credential: BlueprintCredential,
  a: AuthorityOptions,
): Promise<AcquiredToken> {
  const host = a.authorityHost.replace(/\/+$/, "");
  const auth: Configuration["auth"] = {
    clientId: blueprintClientId,
    authority: `${host}/${tenantId}`,
    ...(isMicrosoftAuthority(host) ? {} : { knownAuthorities: [new URL(host).host] }),
  };
  if (credential.kind === "certificate")
    auth.clientCertificate = {
      thumbprintSha256: credential.thumbprintSha256,
      privateKey: credential.privateKeyPem,
    };
  else if (credential.kind === "secret") auth.clientSecret = credential.secret;
  else
    auth.clientAssertion = (c) =>
      credential.getAssertion(c.tokenEndpoint ?? `${host}/${tenantId}/oauth2/v2.0/token`);
  const app = new ConfidentialClientApplication({
    auth,
    system: {
      loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => {} },
    },
  });
  const r = await app.acquireTokenByClientCredential({
    scopes: [TOKEN_EXCHANGE_SCOPE],
    fmiPath: agentClientId,
    skipCache: true,
  });
  if (!r?.accessToken || !r.expiresOn)
    throw new EntraAgentIdError("authentication_failed", "The agent identity exchange returned no token");
  return {
    token: r.accessToken,
    expiresOnTimestamp: r.expiresOn.getTime(),
    ...(r.refreshOn ? { refreshAfterTimestamp: r.refreshOn.getTime() } : {}),
  };
}

/** The managed identity's token for `api://AzureADTokenExchange`, as the blueprint's assertion. */
export async function managedIdentityAssertion(clientId: string | undefined): Promise<string> {
  return (await acquireByManagedIdentity(clientId, [TOKEN_EXCHANGE_SCOPE])).token;
}

// --- Key Vault ---------------------------------------------------------------------------------

function isKeyVaultHost(vaultUrl: string): boolean {
  const h = new URL(vaultUrl).hostname.toLowerCase();
  return KEY_VAULT_SUFFIXES.some((s) => h.endsWith(s));
}

/**
 * A certificate in Key Vault: the latest enabled version is current, the version before it is
 * kept as previous. Assertions are signed with the version's key by Key Vault (`keys/sign`).
 */
export class KeyVaultSource implements CertificateSource {
  private cur!: LoadedCertificate;
  private prev: LoadedCertificate | undefined;
  private poller: NodeJS.Timeout | undefined;
  private loading: Promise<boolean> | undefined;
  private closed = false;

  private constructor(
    private readonly client: CertificateClient,
    private readonly credential: TokenCredential,
    private readonly vaultUrl: string,
    private readonly name: string,
    private readonly hooks: ReloadHooks,
  ) {}

  static async open(
    opts: {
      vaultUrl: string;
      name: string;
      credential?: TokenCredentialLike;
      pollIntervalMs: number;
    } & ReloadHooks,
  ): Promise<KeyVaultSource> {
    const credential = (opts.credential as TokenCredential | undefined) ?? new DefaultAzureCredential();
    const client = new CertificateClient(opts.vaultUrl, credential, {
      disableChallengeResourceVerification: !isKeyVaultHost(opts.vaultUrl),
    });
    const s = new KeyVaultSource(client, credential, opts.vaultUrl, opts.name, opts);
    const latest = await s.fetchLatest();
    s.cur = s.load(latest);
    s.prev = await s.fetchPrevious(latest).catch(() => undefined);
    if (opts.pollIntervalMs > 0) {
      s.poller = setInterval(() => void s.poll(), opts.pollIntervalMs);
      s.poller.unref();
    }
    return s;
  }

  get current(): LoadedCertificate {
    return this.cur;
  }
  get previous(): LoadedCertificate | undefined {
    return this.prev;
  }

  reload(): Promise<boolean> {
    this.loading ??= (async () => {
      try {
        const latest = await this.fetchLatest();
        if (latest.properties.version === this.cur.identity) return false;
        const from = this.cur.info;
        this.prev = this.cur;
        this.cur = this.load(latest);
        this.hooks.onChange?.(from, this.cur.info);
        return true;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  close(): void {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    try {
      await this.reload();
    } catch (e) {
      this.hooks.onError?.(e instanceof Error ? e : new Error(describe(e)));
    }
  }

  private where(): string {
    return `Key Vault certificate '${this.name}' in ${this.vaultUrl}`;
  }

  private async fetchLatest(): Promise<KeyVaultCertificate> {
    let c: KeyVaultCertificate;
    try {
      c = await this.client.getCertificate(this.name);
    } catch (e) {
      const status = (e as { statusCode?: number }).statusCode;
      const fix =
        status === 404
          ? "check keyVaultCertificate.name and vaultUrl"
          : status === 401 || status === 403
            ? "grant the credential certificates/get, certificates/list and keys/sign (Key Vault Certificate User + Key Vault Crypto User)"
            : "check keyVaultCertificate.vaultUrl and the network";
      throw new EntraAgentIdError("key_vault", `Cannot read ${this.where()} (${describe(e)}): ${fix}`, {
        cause: e,
      });
    }
    if (!c.cer || !c.keyId || !c.properties.version)
      throw new EntraAgentIdError(
        "key_vault",
        `${this.where()} has no issued version yet: wait for its issuance to complete`,
      );
    return c;
  }

  private async fetchPrevious(latest: KeyVaultCertificate): Promise<LoadedCertificate | undefined> {
    const now = Date.now();
    const candidates = [];
    for await (const p of this.client.listPropertiesOfCertificateVersions(this.name)) {
      if (!p.version || p.version === latest.properties.version || p.enabled === false) continue;
      if (p.expiresOn && p.expiresOn.getTime() <= now) continue;
      candidates.push(p);
    }
    candidates.sort((x, y) => (y.createdOn?.getTime() ?? 0) - (x.createdOn?.getTime() ?? 0));
    const best = candidates[0];
    if (!best?.version) return undefined;
    const v = await this.client.getCertificateVersion(this.name, best.version);
    return v.cer && v.keyId ? this.load(v) : undefined;
  }

  private load(c: KeyVaultCertificate): LoadedCertificate {
    const keyId = c.keyId as string;
    const crypto = new CryptographyClient(keyId, this.credential, {
      disableChallengeResourceVerification: !isKeyVaultHost(this.vaultUrl),
    });
    const sign: DigestSigner = async (alg, digest) => {
      try {
        return (await crypto.sign(alg, digest)).result;
      } catch (e) {
        throw new EntraAgentIdError(
          "key_vault",
          `Key Vault refused to sign with ${this.where()} (${describe(e)}): grant the credential keys/sign (Key Vault Crypto User)`,
          { cause: e },
        );
      }
    };
    return {
      info: certificateInfo(c.cer as Uint8Array, versionedId(c, this.vaultUrl, this.name)),
      identity: c.properties.version as string,
      sign,
      keyId,
    };
  }
}

function versionedId(c: KeyVaultCertificate, vaultUrl: string, name: string): string {
  const id = (c.properties.id ?? c.id ?? `${vaultUrl.replace(/\/+$/, "")}/certificates/${name}`).replace(
    /\/+$/,
    "",
  );
  const version = c.properties.version;
  return version && !id.endsWith(`/${version}`) ? `${id}/${version}` : id;
}
