/**
 * The options EntraAgentId takes, checked with a strict schema: an unknown option, a missing one
 * or two credential kinds at once fail with a message that names the option and the fix.
 */
import { z } from "zod";
import { EntraAgentIdError } from "./errors.js";

/** What `getToken` of an @azure/identity-style credential returns; kept structural on purpose. */
export interface AccessTokenLike {
  token: string;
  expiresOnTimestamp: number;
  refreshAfterTimestamp?: number;
}

/** Any object with `getToken(scopes)`, e.g. an @azure/identity credential. */
export interface TokenCredentialLike {
  getToken(scopes: string | string[], options?: object): Promise<AccessTokenLike | null>;
}

/**
 * Where EntraAgentId sets its timers (auto refresh). Node's `setTimeout`/`clearTimeout` shape; a
 * test passes a virtual clock's timers so that refreshes happen when the test moves time. The
 * callback returns a promise that settles (never rejects) once the refreshes it started are done;
 * a virtual clock may wait for it.
 */
export interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface KeyVaultCertificateOptions {
  /** The vault, e.g. `https://my-vault.vault.azure.net/`. */
  vaultUrl: string;
  /** The certificate's name in the vault; its latest enabled version is used. */
  name: string;
  /**
   * The credential that reads the certificate and asks Key Vault to sign (needs the
   * `certificates/get`, `certificates/list` and `keys/sign` data actions). Default:
   * `DefaultAzureCredential`.
   */
  credential?: TokenCredentialLike;
}

export interface AgentIdentityOptions {
  /** Client id (appId) of the agent identity blueprint that holds the credential. */
  blueprintClientId: string;
  /** Client id of the agent identity to get tokens for. */
  agentClientId: string;
}

export interface EntraAgentIdOptions {
  /** Directory (tenant) id. Required except for `managedIdentity`. */
  tenantId?: string;
  /**
   * Client id of the application the credential belongs to. Required except for
   * `managedIdentity` (where it may be given instead of `managedIdentity: "<client id>"`) and
   * `agentIdentity` (where it defaults to the blueprint).
   */
  clientId?: string;
  /** A PEM file with the certificate and its unencrypted private key. Reloaded when it changes. */
  certificatePath?: string;
  /** The certificate and its unencrypted private key, as PEM text. */
  certificate?: string;
  /** A certificate in Key Vault; assertions are signed by Key Vault, the key never leaves it. */
  keyVaultCertificate?: KeyVaultCertificateOptions;
  /** A client secret (development only; prefer certificates). */
  clientSecret?: string;
  /** `true` for the system-assigned (or default) managed identity, or a user-assigned identity's client id. */
  managedIdentity?: true | string;
  /** Get tokens for an agent identity through its blueprint (two-leg exchange). */
  agentIdentity?: AgentIdentityOptions;
  /** Default `https://login.microsoftonline.com`. */
  authorityHost?: string;
  /** Default scopes for `getToken()`; default `https://graph.microsoft.com/.default`. */
  scopes?: string | string[];
  /** The clock (epoch ms) caching decisions use. Default `Date.now`. */
  now?: () => number;
  /**
   * The timers auto refresh sleeps on, with delays in `now()`'s milliseconds. Default: Node's
   * timers, unref'd (they do not keep the process alive).
   */
  scheduler?: Scheduler;
  /** How often the certificate file is stat'ed and the Key Vault version checked, in ms (0: never). Default 60 000. */
  certificatePollIntervalMs?: number;
  /** Watch `certificatePath` for changes (in addition to polling). Default true. */
  watchCertificateFile?: boolean;
  /** Refresh a token this long before it expires, when Entra gave no `refresh_in`. Default 300 000 (5 min). */
  refreshBeforeExpiryMs?: number;
  /** Called with failures that happen in the background (refresh, reload); never with secrets. */
  onBackgroundError?: (error: Error) => void;
}

export const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";
export const DEFAULT_SCOPE = "https://graph.microsoft.com/.default";

const nonEmpty = (what: string) =>
  z
    .string({ error: `must be a string (${what})` })
    .trim()
    .min(1, { error: `must not be empty (${what})` });
const guidish = (what: string) =>
  nonEmpty(what).regex(/^[0-9a-zA-Z._-]+$/, {
    error: `must be a GUID or a domain name (${what})`,
  });
const httpsUrl = (what: string) =>
  z.string({ error: `must be an https URL (${what})` }).refine(
    (s) => {
      try {
        return new URL(s).protocol === "https:";
      } catch {
        return false;
      }
    },
    { error: `must be an https URL (${what})` },
  );
const credentialLike = z.custom<TokenCredentialLike>(
  (v) => typeof v === "object" && v !== null && typeof (v as TokenCredentialLike).getToken === "function",
  { error: "must be a credential with a getToken(scopes) method, e.g. new DefaultAzureCredential()" },
);

const base = z.strictObject({
  tenantId: guidish("the directory (tenant) id, e.g. 72f988bf-…").optional(),
  clientId: guidish("the application (client) id").optional(),
  certificatePath: nonEmpty("the path of a PEM file holding the certificate and its private key").optional(),
  certificate: nonEmpty("PEM text with the certificate and its private key").optional(),
  keyVaultCertificate: z
    .strictObject({
      vaultUrl: httpsUrl("the vault URL, e.g. https://my-vault.vault.azure.net/"),
      name: nonEmpty("the certificate's name in the vault").regex(/^[0-9a-zA-Z-]{1,127}$/, {
        error: "must be a Key Vault certificate name: 1-127 letters, digits and dashes",
      }),
      credential: credentialLike.optional(),
    })
    .optional(),
  clientSecret: nonEmpty("the client secret's value (not its id)").optional(),
  managedIdentity: z
    .union([z.literal(true), guidish("a user-assigned managed identity's client id")], {
      error: "must be true (system-assigned) or the client id of a user-assigned managed identity",
    })
    .optional(),
  agentIdentity: z
    .strictObject({
      blueprintClientId: guidish("the agent identity blueprint's client id"),
      agentClientId: guidish("the agent identity's client id"),
    })
    .optional(),
  authorityHost: httpsUrl("e.g. https://login.microsoftonline.com").optional(),
  scopes: z
    .union([
      nonEmpty("a scope, e.g. https://graph.microsoft.com/.default"),
      z.array(nonEmpty("a scope")).min(1),
    ])
    .optional(),
  now: z
    .custom<() => number>((v) => typeof v === "function", { error: "must be a function returning epoch ms" })
    .optional(),
  scheduler: z
    .custom<Scheduler>(
      (v) =>
        typeof v === "object" &&
        v !== null &&
        typeof (v as Scheduler).setTimeout === "function" &&
        typeof (v as Scheduler).clearTimeout === "function",
      { error: "must be an object with setTimeout(callback, ms) and clearTimeout(handle) methods" },
    )
    .optional(),
  certificatePollIntervalMs: z.number().int().min(0).optional(),
  watchCertificateFile: z.boolean().optional(),
  refreshBeforeExpiryMs: z.number().int().min(0).optional(),
  onBackgroundError: z
    .custom<(e: Error) => void>((v) => typeof v === "function", { error: "must be a function" })
    .optional(),
});

const schema = base.superRefine((o, ctx) => {
  const kinds = (
    ["certificatePath", "certificate", "keyVaultCertificate", "clientSecret", "managedIdentity"] as const
  ).filter((k) => o[k] !== undefined);
  if (kinds.length === 0)
    ctx.addIssue({
      code: "custom",
      path: [],
      message:
        "no credential given: set exactly one of certificatePath, certificate, keyVaultCertificate, clientSecret or managedIdentity",
    });
  if (kinds.length > 1)
    ctx.addIssue({
      code: "custom",
      path: [kinds[1] as string],
      message: `only one credential may be given, but ${kinds.join(" and ")} are set: keep one`,
    });
  const mi = o.managedIdentity !== undefined;
  if (!mi && !o.tenantId)
    ctx.addIssue({
      code: "custom",
      path: ["tenantId"],
      message: "is required: set the directory (tenant) id",
    });
  if (!mi && !o.clientId && !o.agentIdentity)
    ctx.addIssue({
      code: "custom",
      path: ["clientId"],
      message: "is required: set the application (client) id",
    });
  if (o.agentIdentity && o.clientId) {
    const c = o.clientId.toLowerCase();
    if (
      c !== o.agentIdentity.blueprintClientId.toLowerCase() &&
      c !== o.agentIdentity.agentClientId.toLowerCase()
    )
      ctx.addIssue({
        code: "custom",
        path: ["clientId"],
        message:
          "differs from agentIdentity.blueprintClientId: with agentIdentity, leave clientId out (the blueprint holds the credential)",
      });
  }
  if (o.agentIdentity && mi && !o.tenantId)
    ctx.addIssue({
      code: "custom",
      path: ["tenantId"],
      message: "is required with agentIdentity: set the directory (tenant) id",
    });
  if (
    mi &&
    typeof o.managedIdentity === "string" &&
    o.clientId &&
    !o.agentIdentity &&
    o.clientId !== o.managedIdentity
  )
    ctx.addIssue({
      code: "custom",
      path: ["clientId"],
      message: "differs from managedIdentity: give the user-assigned identity's client id once",
    });
  if (o.watchCertificateFile !== undefined && o.certificatePath === undefined)
    ctx.addIssue({
      code: "custom",
      path: ["watchCertificateFile"],
      message: "only applies to certificatePath: remove it or set certificatePath",
    });
});

export type ParsedOptions = z.infer<typeof schema>;

/** Validates options; throws EntraAgentIdError("invalid_options") naming every problem. */
export function parseOptions(input: unknown): ParsedOptions {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw new EntraAgentIdError(
      "invalid_options",
      "EntraAgentId options must be an object, e.g. { tenantId, clientId, certificatePath }",
    );
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    if (i.code === "unrecognized_keys") {
      const keys = (i as { keys: string[] }).keys;
      const where = i.path.length > 0 ? `${i.path.join(".")}.` : "";
      return `unknown option ${keys.map((k) => `'${where}${k}'`).join(", ")}: remove it (known options: ${knownOf(i.path)})`;
    }
    const path = i.path.length > 0 ? `option '${i.path.join(".")}' ` : "";
    return `${path}${i.message}`;
  });
  throw new EntraAgentIdError("invalid_options", `Invalid EntraAgentId options: ${problems.join("; ")}`);
}

function knownOf(path: PropertyKey[]): string {
  const top = path[0];
  if (top === "keyVaultCertificate") return "vaultUrl, name, credential";
  if (top === "agentIdentity") return "blueprintClientId, agentClientId";
  return Object.keys(base.shape).join(", ");
}
