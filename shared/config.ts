/**
 * Every setting Rollover reads, in one schema: name, type, default and a one-line description.
 * Settings are environment variables (app settings in Azure). `loadConfig` checks them all at
 * once and reports *every* problem with the variable's name and what is expected; a user's
 * mistake never surfaces as a stack trace. The README's configuration table is generated from
 * this schema (`rollover config --markdown`) and a test keeps the two equal.
 */
import { z } from "zod";
import { normalizeGuid } from "./core/ids.js";

type Kind = "string" | "url" | "integer" | "number" | "boolean" | "enum" | "list" | "uuid" | "cron";

export interface SettingSpec<T> {
  env: string;
  kind: Kind;
  description: string;
  /** Shown in the docs; `undefined` means the setting is optional with no default. */
  default?: T;
  /** Shown in the docs when there is no default. */
  example?: string;
  parse: z.ZodType<T>;
}

const trimmed = z.string().trim();
const integer = (min: number, max: number) =>
  trimmed
    .regex(/^-?\d+$/, `a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `at least ${min}`).max(max, `at most ${max}`));
const decimal = (min: number, max: number) =>
  trimmed
    .regex(/^-?\d+(\.\d+)?$/, `a number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `at least ${min}`).max(max, `at most ${max}`));
const boolean = trimmed
  .toLowerCase()
  .refine((s) => ["true", "false", "1", "0", "yes", "no"].includes(s), "true or false")
  .transform((s) => s === "true" || s === "1" || s === "yes");
const httpsUrl = trimmed
  .refine((s) => {
    try {
      return new URL(s).protocol === "https:";
    } catch {
      return false;
    }
  }, "an https:// URL")
  .transform((s) => s.replace(/\/+$/, ""));
const list = trimmed.transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);
/** GUIDs are kept in lower case, so ids compare equal however they were typed (shared/core/ids.ts). */
const uuid = trimmed
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    "a GUID such as 00000000-0000-0000-0000-000000000000",
  )
  .transform(normalizeGuid);
/** NCRONTAB with six fields (seconds first), as the Functions timer trigger takes it. */
const cron = trimmed.refine(
  (s) => s.split(/\s+/).length === 6,
  "an NCRONTAB expression with six fields, e.g. 0 0 */6 * * *",
);
const enumOf = <T extends string>(values: readonly [T, ...T[]]) =>
  trimmed
    .toLowerCase()
    .pipe(
      z.enum(values.map((v) => v.toLowerCase()) as [T, ...T[]], { message: `one of ${values.join(", ")}` }),
    );

// biome-ignore lint/suspicious/noExplicitAny: the literal type of each spec is kept for `Config`
function spec<const S extends SettingSpec<any>>(s: S): S {
  return s;
}

/** The schema. Order here is the order of the README table. */
export const SETTINGS = {
  tenantId: spec({
    env: "AZURE_TENANT_ID",
    kind: "uuid",
    description: "Tenant id of the deployment's own Microsoft Entra tenant.",
    example: "72f988bf-86f1-41af-91ab-2d7cd011db47",
    parse: uuid,
  }),
  clientId: spec({
    env: "AZURE_CLIENT_ID",
    kind: "uuid",
    description: "Client id of Rollover's user-assigned managed identity (empty: system-assigned).",
    example: "6d1c4f59-…",
    parse: uuid,
  }),
  identityObjectId: spec({
    env: "ROLLOVER_IDENTITY_OBJECT_ID",
    kind: "uuid",
    description: "Object id of Rollover's own service principal; the sweep never touches it.",
    example: "0f6b4c7e-…",
    parse: uuid,
  }),
  authorityHost: spec({
    env: "AZURE_AUTHORITY_HOST",
    kind: "url",
    description: "Microsoft Entra authority host used for tokens and for verifying new certificates.",
    default: "https://login.microsoftonline.com",
    parse: httpsUrl,
  }),
  graphBaseUrl: spec({
    env: "ROLLOVER_GRAPH_BASE_URL",
    kind: "url",
    description: "Microsoft Graph base URL (national clouds, or the sandbox).",
    default: "https://graph.microsoft.com",
    parse: httpsUrl,
  }),
  vaultUrls: spec({
    env: "ROLLOVER_VAULT_URLS",
    kind: "list",
    description: "Comma-separated Key Vault URLs whose certificate tags declare bindings.",
    example: "https://contoso-kv.vault.azure.net",
    parse: list.pipe(z.array(httpsUrl).min(1, "at least one https:// vault URL")),
  }),
  allowedVaults: spec({
    env: "ROLLOVER_ALLOWED_VAULTS",
    kind: "list",
    description:
      "Vault resource ids (or names) whose Event Grid events are acted on; others are refused and audited.",
    example: "/subscriptions/…/providers/Microsoft.KeyVault/vaults/contoso-kv",
    parse: list,
  }),
  reconcileSchedule: spec({
    env: "ROLLOVER_RECONCILE_SCHEDULE",
    kind: "cron",
    description: "NCRONTAB schedule of the reconcile-and-sweep timer.",
    default: "0 0 */6 * * *",
    parse: cron,
  }),
  flushAuditSchedule: spec({
    env: "ROLLOVER_FLUSH_AUDIT_SCHEDULE",
    kind: "cron",
    description: "NCRONTAB schedule of the timer that sends audit records that waited in storage.",
    default: "0 */5 * * * *",
    parse: cron,
  }),
  alertSecureWebhook: spec({
    env: "ROLLOVER_ALERT_SECURE_WEBHOOK",
    kind: "boolean",
    description:
      "Require the Action Group's secure-webhook bearer token (Microsoft Entra, role ActionGroupsSecureWebhook) on remediateAlert.",
    default: false,
    parse: boolean,
  }),
  alertWebhookAudiences: spec({
    env: "ROLLOVER_ALERT_WEBHOOK_AUDIENCES",
    kind: "list",
    description:
      "Accepted `aud` of secure-webhook tokens: the alert webhook app registration's client id and identifier URI.",
    example: "api://72f988bf-…/rollover-alerts,0b1e7c4a-…",
    parse: list,
  }),
  alertActionGroupAppId: spec({
    env: "ROLLOVER_ALERT_ACTION_GROUP_APP_ID",
    kind: "uuid",
    description:
      "Client id the secure-webhook token must be issued to: the Azure Monitor Action Group application.",
    default: "461e8683-5575-4561-ac7f-899cc907d62a",
    parse: uuid,
  }),
  renewBeforeDays: spec({
    env: "ROLLOVER_RENEW_BEFORE_DAYS",
    kind: "integer",
    description: "Renew a certificate at the latest this many days before it expires.",
    default: 30,
    parse: integer(1, 3650),
  }),
  renewAtLifetimeFraction: spec({
    env: "ROLLOVER_RENEW_AT_LIFETIME_FRACTION",
    kind: "number",
    description:
      "Renew once this fraction of a certificate's lifetime has passed (whichever of the rules comes first).",
    default: 2 / 3,
    parse: decimal(0.05, 0.99),
  }),
  renewBufferHours: spec({
    env: "ROLLOVER_RENEW_BUFFER_HOURS",
    kind: "integer",
    description:
      "Hysteresis: a version younger than this is never renewed again, so runs near a boundary do not flap.",
    default: 24,
    parse: integer(0, 720),
  }),
  maxStepFailures: spec({
    env: "ROLLOVER_MAX_STEP_FAILURES",
    kind: "integer",
    description:
      "A binding whose same step failed this many times in a row stops retrying on its own and is reported as needing a person (StepFailureLimit).",
    default: 5,
    parse: integer(1, 100),
  }),
  graceHours: spec({
    env: "ROLLOVER_GRACE_HOURS",
    kind: "integer",
    description:
      "Hours a replaced key stays on the target after the new key is verified, before it is removed.",
    default: 72,
    parse: integer(0, 8760),
  }),
  maxRemovalsPerRun: spec({
    env: "ROLLOVER_MAX_REMOVALS_PER_RUN",
    kind: "integer",
    description: "At most this many credentials are removed in one run; the rest are reported as deferred.",
    default: 10,
    parse: integer(0, 10000),
  }),
  maxRemovalsPerHour: spec({
    env: "ROLLOVER_MAX_REMOVALS_PER_HOUR",
    kind: "integer",
    description:
      "At most this many credentials are removed in a clock hour (UTC), by every run together: timer runs, fanned-out pages, remediation sweeps and the CLI (one Table entity, updated under its ETag).",
    default: 20,
    parse: integer(0, 100000),
  }),
  maxRemovalsPerDay: spec({
    env: "ROLLOVER_MAX_REMOVALS_PER_DAY",
    kind: "integer",
    description: "At most this many credentials are removed in a UTC day, by every run together.",
    default: 100,
    parse: integer(0, 1000000),
  }),
  sweepMode: spec({
    env: "ROLLOVER_SWEEP_MODE",
    kind: "enum",
    description: "`report` only lists findings; `remove` also removes what policy and guardrails allow.",
    default: "report" as "report" | "remove",
    parse: enumOf(["report", "remove"] as const),
  }),
  fullSweepHours: spec({
    env: "ROLLOVER_FULL_SWEEP_HOURS",
    kind: "integer",
    description:
      "A full sweep at least this often; runs in between read only the objects changed since (Graph /delta).",
    default: 24,
    parse: integer(1, 720),
  }),
  maxCredentialLifetimeDays: spec({
    env: "ROLLOVER_MAX_CREDENTIAL_LIFETIME_DAYS",
    kind: "integer",
    description: "Credentials valid for longer than this are reported as over-long-lived.",
    default: 397,
    parse: integer(1, 36500),
  }),
  expiringWithinDays: spec({
    env: "ROLLOVER_EXPIRING_WITHIN_DAYS",
    kind: "integer",
    description: "Credentials expiring within this many days with no binding are reported.",
    default: 30,
    parse: integer(1, 3650),
  }),
  requireCertificates: spec({
    env: "ROLLOVER_REQUIRE_CERTIFICATES",
    kind: "boolean",
    description: "Report client secrets as findings: policy wants certificates instead.",
    default: false,
    parse: boolean,
  }),
  removeExpiredSecrets: spec({
    env: "ROLLOVER_REMOVE_EXPIRED_SECRETS",
    kind: "boolean",
    description: "In `remove` mode, also remove expired client secrets (not only keys).",
    default: true,
    parse: boolean,
  }),
  allowList: spec({
    env: "ROLLOVER_ALLOW_LIST",
    kind: "list",
    description: "If set, the sweep removes credentials only from these object ids or app ids.",
    example: "11111111-…,22222222-…",
    parse: list,
  }),
  denyList: spec({
    env: "ROLLOVER_DENY_LIST",
    kind: "list",
    description: "Object ids or app ids the sweep never removes credentials from.",
    example: "33333333-…",
    parse: list,
  }),
  unusedAfterDays: spec({
    env: "ROLLOVER_UNUSED_AFTER_DAYS",
    kind: "integer",
    description:
      "A credential with no sign-in for this many days is reported as unused (needs AuditLog.Read.All; global cloud only).",
    default: 90,
    parse: integer(1, 3650),
  }),
  removeUnused: spec({
    env: "ROLLOVER_REMOVE_UNUSED",
    kind: "boolean",
    description:
      "In `remove` mode, also remove valid credentials reported unused, through every guardrail (never the last valid one, never a binding's current key).",
    default: false,
    parse: boolean,
  }),
  highPrivilegePermissions: spec({
    env: "ROLLOVER_HIGH_PRIVILEGE_PERMISSIONS",
    kind: "list",
    description:
      "Microsoft Graph application permissions that make a secret or a long-lived credential a HighPrivilegeCredential finding.",
    default: [
      "Application.ReadWrite.All",
      "AppRoleAssignment.ReadWrite.All",
      "Directory.ReadWrite.All",
      "RoleManagement.ReadWrite.Directory",
    ] as string[],
    parse: list,
  }),
  managedMode: spec({
    env: "ROLLOVER_MANAGED_MODE",
    kind: "boolean",
    description:
      "Allow managed mode (PATCH as Rollover's identity with Application.ReadWrite.OwnedBy) for targets with no valid certificate.",
    default: false,
    parse: boolean,
  }),
  concurrency: spec({
    env: "ROLLOVER_CONCURRENCY",
    kind: "integer",
    description: "How many bindings are worked on at once in one run.",
    default: 8,
    parse: integer(1, 64),
  }),
  verifyTimeoutSeconds: spec({
    env: "ROLLOVER_VERIFY_TIMEOUT_SECONDS",
    kind: "integer",
    description: "How long to keep retrying a token with a new certificate before verification fails.",
    default: 300,
    parse: integer(1, 3600),
  }),
  logsIngestionEndpoint: spec({
    env: "ROLLOVER_LOGS_INGESTION_ENDPOINT",
    kind: "url",
    description: "Logs Ingestion endpoint of the data collection endpoint or rule, for the audit trail.",
    example: "https://rollover-dce.westeurope-1.ingest.monitor.azure.com",
    parse: httpsUrl,
  }),
  dcrImmutableId: spec({
    env: "ROLLOVER_DCR_IMMUTABLE_ID",
    kind: "string",
    description: "Immutable id of the data collection rule for audit records.",
    example: "dcr-0123456789abcdef0123456789abcdef",
    parse: trimmed.regex(/^dcr-[0-9a-f]{32}$/i, "an immutable id like dcr-0123456789abcdef0123456789abcdef"),
  }),
  dcrStreamName: spec({
    env: "ROLLOVER_DCR_STREAM_NAME",
    kind: "string",
    description: "Stream of the data collection rule that feeds the audit table.",
    default: "Custom-RolloverAudit_CL",
    parse: trimmed.regex(/^Custom-[A-Za-z0-9_]+$/, "a custom stream name like Custom-RolloverAudit_CL"),
  }),
  auditSigningKeyId: spec({
    env: "ROLLOVER_AUDIT_SIGNING_KEY_ID",
    kind: "url",
    description:
      "Versionless URL of Rollover's non-exportable Key Vault key that signs each audit chain head (`sign`); `rollover audit verify` checks the signatures with its public key.",
    example: "https://kv-rollover-0123456789.vault.azure.net/keys/rollover-audit-signing",
    parse: httpsUrl,
  }),
  storage: spec({
    env: "AzureWebJobsStorage",
    kind: "string",
    description:
      "Storage for state records, leases, the sweep queue and spooled audit records (connection string, or use __accountName with managed identity).",
    example: "UseDevelopmentStorage=true",
    parse: trimmed.min(1, "a storage connection string"),
  }),
  storageAccountName: spec({
    env: "AzureWebJobsStorage__accountName",
    kind: "string",
    description:
      "Storage account name when the host uses its managed identity for storage (no connection string).",
    example: "rolloverst123",
    parse: trimmed.regex(/^[a-z0-9]{3,24}$/, "3–24 lower-case letters and digits"),
  }),
  storageEndpointSuffix: spec({
    env: "ROLLOVER_STORAGE_ENDPOINT_SUFFIX",
    kind: "string",
    description:
      "DNS suffix of the storage account's endpoints when storage is reached by account name (national clouds: core.usgovcloudapi.net, core.chinacloudapi.cn).",
    default: "core.windows.net",
    parse: trimmed
      .toLowerCase()
      .regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, "a DNS suffix such as core.windows.net"),
  }),
  auditWorkspaceId: spec({
    env: "ROLLOVER_AUDIT_WORKSPACE_ID",
    kind: "uuid",
    description: "Log Analytics workspace id that `rollover audit verify` reads the audit records from.",
    example: "5e6c1f7a-…",
    parse: uuid,
  }),
  sandboxControlUrl: spec({
    env: "ROLLOVER_SANDBOX_CONTROL_URL",
    kind: "url",
    description:
      "Sandbox only: its control API. Every Rollover process then reads the time from the sandbox's virtual clock (at start and before each run), and `rollover audit verify` reads ingested records there. Refused when the other settings point at Azure.",
    example: "https://127.0.0.1:8443/_sandbox",
    parse: httpsUrl,
  }),
  logLevel: spec({
    env: "ROLLOVER_LOG_LEVEL",
    kind: "enum",
    description: "Log verbosity: error, warn, info or debug.",
    default: "info" as "error" | "warn" | "info" | "debug",
    parse: enumOf(["error", "warn", "info", "debug"] as const),
  }),
} as const;

type Settings = typeof SETTINGS;
export type SettingKey = keyof Settings;
type ValueOf<K extends SettingKey> = z.output<Settings[K]["parse"]>;

/** The parsed configuration: settings with a default are always present, the others may be undefined. */
export type Config = {
  [K in SettingKey]: Settings[K] extends { default: unknown } ? ValueOf<K> : ValueOf<K> | undefined;
};

export interface ConfigProblem {
  env: string;
  message: string;
}

/** Startup with bad settings: carries every problem; `message` is ready to print. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid settings (${problems.length}):\n${problems.map((p) => `  - ${p.env}: ${p.message}`).join("\n")}\n` +
        "See the configuration table in README.md.",
    );
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return e instanceof Error && e.name === "ConfigError" && Array.isArray((e as ConfigError).problems);
}

/**
 * Reads and checks every setting. `require` names settings that must be present for the caller's
 * job (e.g. the Functions app needs the vault URLs); all missing ones are reported together with
 * any malformed values. An empty string counts as unset.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  require: readonly SettingKey[] = [],
): Config {
  const problems: ConfigProblem[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [SettingKey, SettingSpec<unknown>][]) {
    const raw = env[s.env];
    if (raw === undefined || raw.trim() === "") {
      // Storage is either setting; it is checked after the loop.
      if (require.includes(key) && key !== "storage") {
        problems.push({
          env: s.env,
          message: `missing; expected ${describeExpected(s)}${s.example ? ` (e.g. ${s.example})` : ""} — ${s.description}`,
        });
      }
      out[key] = s.default;
      continue;
    }
    const r = s.parse.safeParse(raw);
    if (r.success) {
      out[key] = r.data;
    } else {
      const why = r.error.issues.map((i) => i.message).join("; ");
      problems.push({
        env: s.env,
        message: `${JSON.stringify(redactValue(raw))} is not valid: expected ${why}`,
      });
    }
  }
  if (require.includes("storage") && !out.storage && !out.storageAccountName) {
    problems.push({
      env: SETTINGS.storage.env,
      message: `missing; set AzureWebJobsStorage (a connection string, e.g. UseDevelopmentStorage=true) or ${SETTINGS.storageAccountName.env} (the account name, with the managed identity) — ${SETTINGS.storage.description}`,
    });
  }
  if (typeof out.storage === "string") {
    const bad = insecureRemoteEndpoint(out.storage);
    if (bad)
      problems.push({
        env: SETTINGS.storage.env,
        message: `its endpoint ${bad} is plain http on a host that is not this machine; use https (http is only for a local emulator on 127.0.0.1 / localhost)`,
      });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Config;
}

/** What a check of the settings is for: the commands (and the Functions app) that will run. */
export const PURPOSES = ["plan", "apply", "serve"] as const;
export type Purpose = (typeof PURPOSES)[number];

/**
 * The settings each purpose cannot run without. `plan` reads Key Vault, Graph and the state
 * table; `apply` also changes things, so it needs the audit trail and Rollover's own object id
 * (the sweep never touches it); `serve` (the Functions app) also acts on Event Grid events, so
 * it needs the vaults whose events it accepts.
 */
export const REQUIRED_FOR: Readonly<Record<Purpose, readonly SettingKey[]>> = {
  plan: ["tenantId", "vaultUrls", "storage"],
  apply: ["tenantId", "vaultUrls", "storage", "logsIngestionEndpoint", "dcrImmutableId", "identityObjectId"],
  serve: [
    "tenantId",
    "vaultUrls",
    "storage",
    "logsIngestionEndpoint",
    "dcrImmutableId",
    "identityObjectId",
    "allowedVaults",
  ],
};

/**
 * The settings the given purposes need together (all purposes when none is named), and what the
 * mode adds: managed mode and sweep removals need Rollover's own object id (its owner and its
 * guardrail) for every purpose.
 */
export function requiredFor(purposes: readonly Purpose[], env: NodeJS.ProcessEnv = {}): SettingKey[] {
  const chosen = purposes.length > 0 ? purposes : PURPOSES;
  const keys = new Set(chosen.flatMap((p) => REQUIRED_FOR[p]));
  const managed = SETTINGS.managedMode.parse.safeParse(env[SETTINGS.managedMode.env] ?? "false");
  const sweep = SETTINGS.sweepMode.parse.safeParse(env[SETTINGS.sweepMode.env] ?? "report");
  if ((managed.success && managed.data) || (sweep.success && sweep.data === "remove"))
    keys.add("identityObjectId");
  return [...keys];
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Whether a URL's host is this machine (127.0.0.0/8, localhost, ::1). */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return LOOPBACK.has(host) || /^127(?:\.\d{1,3}){3}$/.test(host);
  } catch {
    return false;
  }
}

/**
 * The service endpoints a storage connection string names (explicit `TableEndpoint=…`, or built
 * from `DefaultEndpointsProtocol`, `AccountName` and `EndpointSuffix`; the emulator shortcut
 * means 127.0.0.1).
 */
export function connectionStringEndpoints(cs: string): string[] {
  const parts = new Map<string, string>();
  for (const kv of cs.split(";")) {
    const i = kv.indexOf("=");
    if (i > 0) parts.set(kv.slice(0, i).trim().toLowerCase(), kv.slice(i + 1).trim());
  }
  if (parts.get("usedevelopmentstorage")?.toLowerCase() === "true") return ["http://127.0.0.1"];
  const explicit = ["blobendpoint", "queueendpoint", "tableendpoint"]
    .map((k) => parts.get(k))
    .filter((v): v is string => !!v);
  if (explicit.length > 0) return explicit;
  const account = parts.get("accountname");
  if (!account) return [];
  const protocol = (parts.get("defaultendpointsprotocol") ?? "https").toLowerCase();
  const suffix = parts.get("endpointsuffix") ?? "core.windows.net";
  return ["blob", "queue", "table"].map((svc) => `${protocol}://${account}.${svc}.${suffix}`);
}

/** Whether every plain-http endpoint of a connection string is on this machine (so http may be allowed). */
export function allowsInsecureConnection(cs: string): boolean {
  const http = connectionStringEndpoints(cs).filter((u) => /^http:/i.test(u));
  return http.length > 0 && http.every(isLoopbackUrl);
}

/** The first plain-http endpoint that is not on this machine, if any. */
function insecureRemoteEndpoint(cs: string): string | undefined {
  return connectionStringEndpoints(cs).find((u) => /^http:/i.test(u) && !isLoopbackUrl(u));
}

function describeExpected(s: SettingSpec<unknown>): string {
  switch (s.kind) {
    case "url":
      return "an https:// URL";
    case "list":
      return "a comma-separated list";
    case "uuid":
      return "a GUID";
    case "integer":
      return "a whole number";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    case "cron":
      return "an NCRONTAB expression";
    default:
      return "a value";
  }
}

/** Echoes a bad value back only when short and harmless: a connection string with a key never is. */
function redactValue(raw: string): string {
  if (/AccountKey=|SharedAccessSignature=|sig=/i.test(raw)) return "[redacted]";
  return raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
}

/** The configuration table as Markdown, for the README. */
export function renderConfigTable(): string {
  const rows = Object.values(SETTINGS).map((s: SettingSpec<unknown>) => {
    const def = s.default === undefined ? "—" : `\`${formatDefault(s.default)}\``;
    return `| \`${s.env}\` | ${s.kind} | ${def} | ${s.description} |`;
  });
  return ["| Variable | Type | Default | Description |", "|---|---|---|---|", ...rows].join("\n");
}

function formatDefault(v: unknown): string {
  if (typeof v === "number" && !Number.isInteger(v)) return String(Math.round(v * 10000) / 10000);
  return String(v);
}
