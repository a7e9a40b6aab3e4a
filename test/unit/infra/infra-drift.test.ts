/**
 * Infra drift: reads the Bicep under infra/ as text and checks it against the code, so that a
 * setting, a column or an event type added on one side and forgotten on the other fails CI.
 *
 * - every setting the code reads in Azure is an app setting of the Function App;
 * - the audit table and the DCR stream have exactly the audit record's columns;
 * - the Event Grid filter delivers exactly the event types `keyVaultEvents` handles;
 * - every role assignment is in app/rbac.bicep (Graph app roles in app/graph.bicep), each named
 *   by guid() and explained; nothing grants Key Vault secrets or Application.ReadWrite.All;
 *   Rollover's Key Vault role holds exactly the data actions it uses;
 * - the deployment parameters (deployer principal type, Graph grants on/off, inbound access
 *   restrictions, vault name suffix) reach the resources they govern, and the hooks azure.yaml
 *   runs exist for both shells;
 * - every file the Bicep loads exists, and every saved query in infra/queries is deployed.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { SETTINGS, type SettingKey } from "../../../shared/config.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const infra = join(root, "infra");

function read(path: string): string {
  return readFileSync(join(root, path), "utf8");
}

function listFiles(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name));
}

/** Bicep source without `//` and `/* *\/` comments (strings, which may hold `//`, are kept). */
function stripComments(source: string): string {
  let out = "";
  let i = 0;
  let inString = false;
  while (i < source.length) {
    const c = source[i];
    if (inString) {
      out += c;
      if (c === "\\") {
        out += source[i + 1] ?? "";
        i += 2;
        continue;
      }
      if (c === "'") inString = false;
      i++;
    } else if (c === "'") {
      inString = true;
      out += c;
      i++;
    } else if (source.startsWith("//", i)) {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? source.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The text of the `{ … }` or `[ … ]` block that opens on the first line matching `opener`. */
function block(source: string, opener: RegExp): string {
  const m = opener.exec(source);
  if (!m) throw new Error(`no block matching ${opener}`);
  const start = m.index + m[0].length - 1;
  const open = source[start];
  const close = open === "{" ? "}" : "]";
  let depth = 0;
  for (let i = start; i < source.length; i++) {
    if (source[i] === open) depth++;
    else if (source[i] === close && --depth === 0) return source.slice(start + 1, i);
  }
  throw new Error(`unclosed block matching ${opener}`);
}

/** Top-level keys of an object literal's body (`key: value` on lines indented one level). */
function objectKeys(body: string): string[] {
  const keys: string[] = [];
  for (const line of body.split("\n")) {
    const m = /^ {2}(?:'([^']+)'|([A-Za-z_][A-Za-z0-9_]*))\s*:/.exec(line);
    if (m) keys.push((m[1] ?? m[2]) as string);
  }
  return keys;
}

function quotedStrings(body: string): string[] {
  return [...body.matchAll(/'([^']*)'/g)].map((m) => m[1] as string);
}

/** Finds the module under shared/ or functions/ that exports `name`, and imports it. */
async function importExport(name: string): Promise<unknown> {
  const pattern = new RegExp(`export const ${name}\\b`);
  const candidates = [
    ...listFiles(join(root, "shared"), ".ts"),
    ...listFiles(join(root, "functions"), ".ts"),
  ];
  const file = candidates.find((f) => pattern.test(readFileSync(f, "utf8")));
  if (!file) return undefined;
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  return mod[name];
}

const bicepFiles = listFiles(infra, ".bicep").map((f) => relative(root, f).split("\\").join("/"));
const code = Object.fromEntries(bicepFiles.map((f) => [f, stripComments(read(f))]));
const main = code["infra/main.bicep"] as string;
const functionBicep = code["infra/app/function.bicep"] as string;
const rbac = read("infra/app/rbac.bicep");
/** azd's parameter file: each value is `${VAR}` or `${VAR=default}`, substituted from the environment. */
const mainParams = (
  JSON.parse(read("infra/main.parameters.json")) as { parameters: Record<string, { value: string }> }
).parameters;
/** The text `${name}` (azd and Bicep interpolation). */
const interp = (name: string): string => `\${${name}}`;
const graph = read("infra/app/graph.bicep");

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/** Settings the deployment must set: the code needs them in Azure, or the operator tunes them. */
const SET_BY_INFRA: Partial<Record<SettingKey, string>> = {
  tenantId: "who Rollover is: the deployment's tenant",
  clientId: "the user-assigned identity every Azure SDK client signs in with",
  identityObjectId: "the sweep must never touch Rollover's own service principal",
  authorityHost: "follows the cloud the deployment is in (national clouds)",
  graphBaseUrl: "a parameter for national clouds",
  vaultUrls: "the vault the deployment creates or names",
  allowedVaults: "only that vault's events are acted on",
  logsIngestionEndpoint: "the data collection rule's own endpoint (kind Direct)",
  dcrImmutableId: "the data collection rule the deployment creates",
  dcrStreamName: "the stream declared in that rule",
  storageAccountName: "the host and the app use storage through the identity",
  storageEndpointSuffix: "follows the cloud the deployment is in (national clouds)",
  reconcileSchedule: "operators tune how often the safety net runs",
  managedMode: "must agree with the Graph permission granted in graph.bicep",
  sweepMode: "report or remove is an operator's decision per deployment",
  renewBeforeDays: "operator policy",
  graceHours: "operator policy",
  maxRemovalsPerRun: "operator guardrail",
  maxRemovalsPerHour: "operator guardrail",
  maxRemovalsPerDay: "operator guardrail",
  allowList: "operator guardrail",
  denyList: "operator guardrail",
  logLevel: "operators raise it while investigating",
  alertSecureWebhook: "the action group calls remediateAlert as a secure webhook: its Entra token is checked",
  alertWebhookAudiences: "the alert webhook app registration that graph.bicep creates",
  auditSigningKeyId: "the non-exportable key app/audit-key.bicep creates in the vault",
};

/** Settings left to the code's defaults, and why (extraAppSettings can still set any of them). */
const LEFT_TO_DEFAULTS: Partial<Record<SettingKey, string>> = {
  storage:
    "a connection string carries an account key; shared keys are off, the host uses AzureWebJobsStorage__accountName with the identity",
  flushAuditSchedule: "how often spooled audit records are resent is an implementation detail",
  renewAtLifetimeFraction: "the default (2/3 of the lifetime) is the policy the docs describe",
  renewBufferHours: "hysteresis against flapping, not a policy knob",
  maxStepFailures:
    "how many failures in a row stop a step for a person: the default (5) is the documented policy",
  maxCredentialLifetimeDays: "defaults to the CA/Browser Forum's 397 days",
  expiringWithinDays: "defaults to the renewal window",
  requireCertificates: "off by default: reporting every client secret is opt-in",
  removeExpiredSecrets: "on by default; only acts in remove mode",
  unusedAfterDays: "90 days, the issue's default; reporting only unless removeUnused",
  removeUnused: "off by default: removing valid unused credentials is opt-in",
  highPrivilegePermissions: "the four Graph permissions that let an application take over the tenant",
  concurrency: "sized for a Flex Consumption instance",
  verifyTimeoutSeconds: "Entra replication delay, not a deployment choice",
  fullSweepHours:
    "a full sweep a day catches credentials that expired on unchanged objects; runs in between use /delta",
  alertActionGroupAppId:
    "Azure Monitor's Action Group application id is the same in every public-cloud tenant",
};

/**
 * Settings that are not the Function App's: read by the CLI on an operator's machine (main.bicep
 * outputs them into the azd environment) or by the sandbox only. Listed by env name, so that
 * the list stays valid while such settings come and go.
 */
const NOT_FOR_THE_FUNCTION_APP: Record<string, string> = {
  ROLLOVER_AUDIT_WORKSPACE_ID: "`rollover audit verify` on an operator's machine; output by main.bicep",
  ROLLOVER_SANDBOX_CONTROL_URL: "the local sandbox only",
};

describe("Function App settings", () => {
  const appSettings = objectKeys(block(functionBicep, /^var appSettings = \{/m));

  it("classifies every setting the code reads, once", () => {
    const keys = Object.keys(SETTINGS) as SettingKey[];
    const unclassified = keys.filter(
      (k) =>
        !(k in SET_BY_INFRA) && !(k in LEFT_TO_DEFAULTS) && !(SETTINGS[k].env in NOT_FOR_THE_FUNCTION_APP),
    );
    expect(
      unclassified,
      "new settings in shared/config.ts: set them in infra/app/function.bicep (and list them in SET_BY_INFRA) or list them in LEFT_TO_DEFAULTS with a reason",
    ).toEqual([]);
    const both = keys.filter((k) => k in SET_BY_INFRA && k in LEFT_TO_DEFAULTS);
    expect(both).toEqual([]);
  });

  it("sets every setting the code needs in Azure", () => {
    const expected = (Object.keys(SET_BY_INFRA) as SettingKey[])
      .filter((k) => k in SETTINGS)
      .map((k) => SETTINGS[k].env);
    const missing = expected.filter((env) => !appSettings.includes(env));
    expect(missing, "missing from `var appSettings` in infra/app/function.bicep").toEqual([]);
  });

  it("sets no Rollover setting the code does not read (typos)", () => {
    const known = new Set<string>(Object.values(SETTINGS).map((s) => s.env));
    const stray = appSettings.filter(
      (name) => name.startsWith("ROLLOVER_") && (!known.has(name) || name in NOT_FOR_THE_FUNCTION_APP),
    );
    expect(stray).toEqual([]);
  });

  it("gives the host identity-based storage and Entra ID telemetry, and no runtime settings Flex rejects", () => {
    expect(appSettings).toEqual(
      expect.arrayContaining([
        "AzureWebJobsStorage__accountName",
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
      ]),
    );
    expect(functionBicep).toMatch(/AzureWebJobsStorage__credential: 'managedidentity'/);
    expect(appSettings).not.toContain("AzureWebJobsStorage");
    expect(appSettings).not.toContain("FUNCTIONS_WORKER_RUNTIME");
    expect(appSettings).not.toContain("FUNCTIONS_EXTENSION_VERSION");
    expect(functionBicep).toMatch(
      /appSettings: \[for setting in items\(union\(appSettings, extraAppSettings\)\)/,
    );
    expect(functionBicep).toMatch(/name: 'node'\s+version: '22'/);
    expect(functionBicep).toMatch(/name: 'FC1'/);
  });

  it("passes the stream the code defaults to", () => {
    expect(main).toContain(`var auditStreamName = '${SETTINGS.dcrStreamName.default}'`);
    expect(main).toContain("var auditTableName = 'RolloverAudit_CL'");
    expect(`Custom-${"RolloverAudit_CL"}`).toBe(SETTINGS.dcrStreamName.default);
  });
});

// ---------------------------------------------------------------------------------------------
// Audit table schema
// ---------------------------------------------------------------------------------------------

interface Column {
  name: string;
  type: string;
}

const auditColumns = (await importExport("AUDIT_COLUMNS")) as readonly Column[] | undefined;
const infraColumns = JSON.parse(read("infra/app/audit-columns.json")) as Column[];

describe("audit table", () => {
  it.skipIf(auditColumns === undefined)(
    "has exactly the audit record's columns (AUDIT_COLUMNS), in order, with their types",
    () => {
      const strip = (cs: readonly Column[]) => cs.map(({ name, type }) => ({ name, type }));
      expect(
        strip(infraColumns),
        "infra/app/audit-columns.json differs from AUDIT_COLUMNS in shared/audit/",
      ).toEqual(strip(auditColumns ?? []));
    },
  );

  it("uses only types both the tables API and a DCR stream take, and no reserved column names", () => {
    for (const c of infraColumns) {
      expect(["string", "datetime", "long", "int", "real", "boolean", "dynamic"]).toContain(c.type);
      expect(c.name).toMatch(/^[A-Za-z][A-Za-z0-9_]{0,44}$/);
      expect([
        "type",
        "tenantid",
        "resource",
        "resourceid",
        "resourcename",
        "resourcetype",
        "subscriptionid",
      ]).not.toContain(c.name.toLowerCase());
    }
    expect(infraColumns[0]).toEqual(expect.objectContaining({ name: "TimeGenerated", type: "datetime" }));
  });

  it("feeds the same columns to the table and to the DCR stream", () => {
    const la = code["infra/app/loganalytics.bicep"] as string;
    const mon = code["infra/app/monitoring.bicep"] as string;
    for (const src of [la, mon]) {
      expect(src).toContain("loadJsonContent('audit-columns.json')");
      expect(src).toMatch(/columns: \[for column in auditColumns:/);
    }
    expect(la).toMatch(/type: column\.type == 'datetime' \? 'dateTime' : column\.type/);
    expect(mon).toMatch(/kind: 'Direct'/);
    expect(mon).toMatch(/outputStream: 'Custom-\$\{auditTableName\}'/);
    expect(mon).toMatch(/transformKql: 'source'/);
  });
});

// ---------------------------------------------------------------------------------------------
// Event Grid filter
// ---------------------------------------------------------------------------------------------

/** What `keyVaultEvents` handles (DESIGN.md, issue 5), used until the code exports the list. */
const EXPECTED_EVENT_TYPES = [
  "Microsoft.KeyVault.CertificateNewVersionCreated",
  "Microsoft.KeyVault.CertificateNearExpiry",
  "Microsoft.KeyVault.CertificateExpired",
];

const exportedEventTypes = (await importExport("KEY_VAULT_EVENT_TYPES")) as readonly string[] | undefined;

describe("Event Grid subscription", () => {
  it("delivers exactly the event types keyVaultEvents handles", () => {
    const filter = quotedStrings(block(main, /^var keyVaultEventTypes = \[/m));
    const handled = [...(exportedEventTypes ?? EXPECTED_EVENT_TYPES)];
    expect([...filter].sort()).toEqual(handled.sort());
    expect(new Set(filter).size).toBe(filter.length);
  });

  it("targets keyVaultEvents with that filter, a retry policy and dead-lettering", () => {
    expect(main).toMatch(/functionName: 'keyVaultEvents'/);
    expect(main).toMatch(/includedEventTypes: keyVaultEventTypes/);
    const eg = code["infra/app/eventgrid.bicep"] as string;
    expect(eg).toMatch(/topicType: 'Microsoft\.KeyVault\.vaults'/);
    // Flex Consumption: a WebHook to the host's Event Grid endpoint with the extension's system key.
    expect(eg).not.toMatch(/endpointType: 'AzureFunction'/);
    expect(eg).toMatch(/endpointType: 'WebHook'\s+properties: \{\s+endpointUrl: eventGridEndpoint/);
    expect(eg).toContain(
      `'https://${interp("functionAppHostName")}/runtime/webhooks/eventgrid?functionName=${interp("functionName")}&code=${interp(`listKeys('${interp("functionAppId")}/host/default', '2024-04-01').systemKeys.eventgrid_extension`)}'`,
    );
    expect(eg).toMatch(/var eventGridEndpoint = subscribe \?/);
    expect(main).toMatch(/functionAppHostName: functionApp\.outputs\.defaultHostName/);
    expect(functionBicep).toMatch(/^output defaultHostName string = site\.properties\.defaultHostName$/m);
    expect(eg).toMatch(/includedEventTypes: includedEventTypes/);
    expect(eg).toMatch(/retryPolicy: \{\s+maxDeliveryAttempts:/);
    expect(eg).toMatch(/deadLetterWithResourceIdentity: \{/);
    expect(eg).toMatch(/endpointType: 'StorageBlob'/);
  });
});

// ---------------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------------

const ROLE_IDS = {
  keyVaultCertificatesOfficer: "a4417e6f-fecd-4de8-b567-7b0420556985",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  storageQueueDataContributor: "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  storageTableDataContributor: "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
};

const FORBIDDEN_ROLE_IDS: Record<string, string> = {
  "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
  "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
  "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
  "f25e0fa2-a7c8-4377-a976-54943a77a395": "Key Vault Contributor",
  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
  "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
  "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
  "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User (Rollover's own role signs instead)",
};

/** The Key Vault data actions Rollover uses, and nothing more (rbac.bicep explains each). */
const ROLLOVER_KEY_VAULT_DATA_ACTIONS = [
  "Microsoft.KeyVault/vaults/certificates/read",
  "Microsoft.KeyVault/vaults/certificates/create/action",
  "Microsoft.KeyVault/vaults/certificates/update/action",
  "Microsoft.KeyVault/vaults/keys/read",
  "Microsoft.KeyVault/vaults/keys/sign/action",
];

const APPLICATION_READWRITE_ALL = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9";
const APPLICATION_READWRITE_OWNEDBY = "18a4783c-866b-4cc7-a460-3d5e5662c884";

/** Each `resource … '<type>@…'` declaration: its symbol, body and the comment lines above it. */
function resources(source: string, type: string): { symbol: string; body: string; comment: string }[] {
  const lines = source.split("\n");
  const out: { symbol: string; body: string; comment: string }[] = [];
  lines.forEach((line, i) => {
    const m = new RegExp(`^resource (\\w+) '${type.replace(/\./g, "\\.")}@[^']+'`).exec(line);
    if (!m) return;
    const comment: string[] = [];
    for (let j = i - 1; j >= 0 && /^\s*\/\//.test(lines[j] as string); j--)
      comment.unshift(lines[j] as string);
    out.push({
      symbol: m[1] as string,
      body: block(lines.slice(i).join("\n"), /^resource .*\{$/m),
      comment: comment.join("\n"),
    });
  });
  return out;
}

describe("role assignments", () => {
  it("are all in app/rbac.bicep; Graph app roles all in app/graph.bicep", () => {
    for (const [file, src] of Object.entries(code)) {
      if (file !== "infra/app/rbac.bicep")
        expect(src, file).not.toContain("Microsoft.Authorization/roleAssignments");
      if (file !== "infra/app/graph.bicep")
        expect(src, file).not.toContain("Microsoft.Graph/appRoleAssignedTo");
    }
  });

  const assignments = resources(rbac, "Microsoft.Authorization/roleAssignments");

  it("are guid()-named, scoped to one resource, and each says why", () => {
    expect(assignments.length).toBeGreaterThanOrEqual(8);
    for (const a of assignments) {
      expect(a.body, a.symbol).toMatch(/^\s+name: guid\(\w+\.id, \w+, (roles|customRoles)\.\w+\)$/m);
      expect(a.body, a.symbol).toMatch(
        /^\s+scope: (vault|storage|auditRule|appInsights|deadLetterContainer)$/m,
      );
      expect(a.comment, `${a.symbol} needs a "// Why: …" comment`).toMatch(/\/\/ Why: \S/);
    }
  });

  it("grant exactly the intended roles on the intended resources", () => {
    const grants = assignments
      .map((a) => {
        const scope = /scope: (\w+)/.exec(a.body)?.[1];
        const role = /[rR]oles\.(\w+)\)$/m.exec(/roleDefinitionId: .*$/m.exec(a.body)?.[0] ?? "")?.[1];
        return `${scope}:${role}`;
      })
      .sort();
    expect(grants).toEqual(
      [
        "vault:keyVaultRenewer", // Rollover's own role (custom)
        "vault:keyVaultCertificatesOfficer", // the deploying operator, optional
        "auditRule:monitoringMetricsPublisher",
        "appInsights:monitoringMetricsPublisher",
        "storage:storageBlobDataOwner",
        "storage:storageQueueDataContributor",
        "storage:storageTableDataContributor",
        "deadLetterContainer:storageBlobDataContributor",
      ].sort(),
    );
    const roles = Object.fromEntries(
      [...rbac.matchAll(/^\s+(\w+): '([0-9a-f-]{36})'/gm)].map((m) => [m[1] as string, m[2] as string]),
    );
    expect(roles).toEqual(ROLE_IDS);
  });

  it("never grant Key Vault secrets, vault administration, Owner or Contributor", () => {
    for (const [file, text] of Object.entries(code)) {
      // alerts.bicep names the Owner role to e-mail its holders (an action group's ARM role
      // receiver, used nowhere else; alerts-registry.test.ts checks that): it grants nothing.
      const src = text.replace(/var ownerRoleId = '[0-9a-f-]{36}'/, "");
      for (const [id, name] of Object.entries(FORBIDDEN_ROLE_IDS)) {
        expect(src.toLowerCase(), `${file} grants ${name}`).not.toContain(id);
      }
      expect(src, file).not.toMatch(/Secrets (User|Officer)/);
    }
  });

  it("never grant Application.ReadWrite.All; OwnedBy only in managed mode", () => {
    for (const [file, src] of Object.entries(code)) {
      expect(src.toLowerCase(), file).not.toContain(APPLICATION_READWRITE_ALL);
      expect(src, file).not.toContain("Application.ReadWrite.All");
    }
    const graphCode = code["infra/app/graph.bicep"] as string;
    const appRoles = resources(graph, "Microsoft.Graph/appRoleAssignedTo");
    const onGraph = appRoles.filter((r) => /resourceId: graphSp\.id/.test(r.body));
    // Exactly two Graph app roles: read (always) and OwnedBy (managed mode only).
    expect(onGraph).toHaveLength(2);
    expect(onGraph.map((r) => /appRoleId: (\w+)/.exec(r.body)?.[1]).sort()).toEqual([
      "applicationReadAllRoleId",
      "applicationReadWriteOwnedByRoleId",
    ]);
    expect(graphCode).toContain("var applicationReadAllRoleId = '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30'");
    expect(graphCode).toContain(`var applicationReadWriteOwnedByRoleId = '${APPLICATION_READWRITE_OWNEDBY}'`);
    expect(graphCode).toMatch(
      /resource \w+ 'Microsoft\.Graph\/appRoleAssignedTo@v1\.0' = if \(grantGraphPermissions && managedMode\)/,
    );
    expect(graph).toMatch(/Self mode.*needs NO Graph permission/s);
    for (const r of appRoles) expect(r.comment, r.symbol).toMatch(/\/\/ Why: \S/);
  });

  it("give Rollover a Key Vault role of exactly the data actions it uses", () => {
    const defs = resources(rbac, "Microsoft.Authorization/roleDefinitions");
    expect(defs.map((d) => d.symbol)).toEqual(["rolloverKeyVaultRole"]);
    const body = defs[0]?.body ?? "";
    expect(body).toMatch(/name: customRoles\.keyVaultRenewer/);
    expect(body).toMatch(/type: 'CustomRole'/);
    expect(body).toMatch(/assignableScopes: \[\s+resourceGroup\(\)\.id\s+\]/);
    expect(body).toMatch(
      /actions: \[\]\s+notActions: \[\]\s+dataActions: rolloverKeyVaultDataActions\s+notDataActions: \[\]/,
    );
    const dataActions = quotedStrings(
      block(code["infra/app/rbac.bicep"] as string, /^var rolloverKeyVaultDataActions = \[/m),
    );
    expect([...dataActions].sort()).toEqual([...ROLLOVER_KEY_VAULT_DATA_ACTIONS].sort());
    // No wildcard, no secret, no delete/purge/import/backup/restore/recover, no decrypt or unwrap.
    for (const a of dataActions)
      expect(a).not.toMatch(
        /\*|secrets|delete|purge|import|backup|restore|recover|crypt|wrap|release|rotate/,
      );
    const renewer = assignments.find((a) => a.symbol === "appKeyVaultRenewer")?.body ?? "";
    expect(renewer).toMatch(/dependsOn: \[rolloverKeyVaultRole\]/);
    expect(renewer).toMatch(
      /roleDefinitionId: subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', customRoles\.keyVaultRenewer\)/,
    );
    expect(renewer).toMatch(/principalId: appPrincipalId/);
  });

  it("are the ones docs/permissions.md names for Rollover's Key Vault role", () => {
    const doc = read("docs/permissions.md");
    for (const a of ROLLOVER_KEY_VAULT_DATA_ACTIONS)
      expect(doc, a).toContain(`\`${a.replace("Microsoft.KeyVault/vaults/", "")}\``);
    expect(doc).toContain("Rollover Key Vault certificate renewer");
    expect(rbac).toContain("roleName: 'Rollover Key Vault certificate renewer (");
  });

  it("take the deployer's principal type from azd (AZURE_PRINCIPAL_TYPE), User by default", () => {
    expect(main).toMatch(
      /@allowed\(\['User', 'ServicePrincipal', 'Group'\]\)\s+(@description\('[^\n]*'\)\s+)?param principalType string = 'User'/,
    );
    expect(mainParams.principalType?.value).toBe(interp("AZURE_PRINCIPAL_TYPE=User"));
    expect(main.match(/deployerPrincipalType: principalType/g)).toHaveLength(2);
    const deployer = assignments.find((a) => a.symbol === "deployerCertificatesOfficer")?.body ?? "";
    expect(deployer).toMatch(/principalType: deployerPrincipalType/);
    // Every other assignment is to a managed identity.
    for (const a of assignments.filter((x) => x.symbol !== "deployerCertificatesOfficer"))
      expect(a.body, a.symbol).toMatch(/principalType: 'ServicePrincipal'/);
  });

  it("grant the Graph application permissions only when grantGraphPermissions is on, and print the same grants otherwise", () => {
    const graphCode = code["infra/app/graph.bicep"] as string;
    expect(graphCode).toMatch(
      /resource readApplications 'Microsoft\.Graph\/appRoleAssignedTo@v1\.0' = if \(grantGraphPermissions\)/,
    );
    expect(graphCode).toMatch(
      /resource managedModeOwnedBy 'Microsoft\.Graph\/appRoleAssignedTo@v1\.0' = if \(grantGraphPermissions && managedMode\)/,
    );
    expect(main).toMatch(/param grantGraphPermissions bool = true/);
    expect(main).toMatch(/grantGraphPermissions: grantGraphPermissions/);
    expect(main).toMatch(
      /output ROLLOVER_GRAPH_PERMISSIONS_GRANTED string = grantGraphPermissions \? 'true' : 'false'/,
    );
    expect(mainParams.grantGraphPermissions?.value).toBe(interp("ROLLOVER_GRANT_GRAPH_PERMISSIONS=true"));
    // The hooks print exactly the app roles graph.bicep would have granted, on Microsoft Graph.
    const readAll = /var applicationReadAllRoleId = '([0-9a-f-]{36})'/.exec(graphCode)?.[1];
    for (const hook of ["infra/hooks/postprovision.sh", "infra/hooks/postprovision.ps1"]) {
      const text = read(hook);
      expect(text, hook).toContain("ROLLOVER_GRAPH_PERMISSIONS_GRANTED");
      expect(text, hook).toContain(`${readAll}`);
      expect(text, hook).toContain(APPLICATION_READWRITE_OWNEDBY);
      expect(text, hook).toContain("00000003-0000-0000-c000-000000000000");
      expect(text, hook).toMatch(/servicePrincipals\/\$mi\/appRoleAssignments/);
      expect(text.toLowerCase(), hook).not.toContain(APPLICATION_READWRITE_ALL);
    }
  });

  it("pass managed mode to the Graph permission and the app setting alike", () => {
    expect(main).toMatch(/managedMode: managedMode/);
    expect(functionBicep).toMatch(/ROLLOVER_MANAGED_MODE: managedMode \?/);
  });
});

// ---------------------------------------------------------------------------------------------
// Inbound access, the audit signing key, the vault name, the hooks
// ---------------------------------------------------------------------------------------------

describe("inbound access restrictions", () => {
  it("are off by default and, when on, admit only the AzureEventGrid and ActionGroup service tags", () => {
    expect(main).toMatch(/param restrictInboundToAzureServices bool = false/);
    expect(main).toMatch(/restrictInboundToAzureServices: restrictInboundToAzureServices/);
    expect(mainParams.restrictInboundToAzureServices?.value).toBe(interp("ROLLOVER_RESTRICT_INBOUND=false"));
    const rules = block(functionBicep, /^var inboundRestrictions = \[/m);
    const tags = [...rules.matchAll(/ipAddress: '([^']+)'/g)].map((m) => m[1]);
    expect(tags.sort()).toEqual(["ActionGroup", "AzureEventGrid"]);
    expect(rules.match(/tag: 'ServiceTag'/g)).toHaveLength(2);
    expect(rules.match(/action: 'Allow'/g)).toHaveLength(2);
    expect(functionBicep).toMatch(
      /ipSecurityRestrictions: restrictInboundToAzureServices \? inboundRestrictions : \[\]\s+ipSecurityRestrictionsDefaultAction: restrictInboundToAzureServices \? 'Deny' : 'Allow'/,
    );
    // Deployment (scm) keeps its own endpoint, so `azd deploy` still reaches it.
    expect(functionBicep).toMatch(/scmIpSecurityRestrictionsUseMain: false/);
  });
});

describe("audit signing key", () => {
  const key = code["infra/app/audit-key.bicep"] as string;

  it("is a non-exportable RSA key for sign and verify only, in Rollover's vault", () => {
    expect(main).toContain("var auditSigningKeyName = 'rollover-audit-signing'");
    expect(main).toMatch(
      /module auditSigningKey 'app\/audit-key\.bicep' = \{\s+name: '[^']+'\s+scope: resourceGroup\(keyVaultResourceGroupName\)/,
    );
    expect(main).toMatch(/keyVaultName: keyVault\.name\s+keyName: auditSigningKeyName/);
    expect(key).toMatch(/resource key 'Microsoft\.KeyVault\/vaults\/keys@[^']+' = \{/);
    expect(key).toMatch(/kty: 'RSA'/);
    expect(key).toMatch(/param keySize int = 3072/);
    expect(quotedStrings(block(key, /^\s+keyOps: \[/m)).sort()).toEqual(["sign", "verify"]);
    expect(key).toMatch(/exportable: false/);
  });

  it("reaches the Function App as ROLLOVER_AUDIT_SIGNING_KEY_ID, versionless", () => {
    expect(key).toContain(
      `output versionlessKeyUrl string = '${interp("vault.properties.vaultUri")}keys/${interp("key.name")}'`,
    );
    expect(main).toMatch(/auditSigningKeyId: auditSigningKey\.outputs\.versionlessKeyUrl/);
    expect(functionBicep).toMatch(/^ {2}ROLLOVER_AUDIT_SIGNING_KEY_ID: auditSigningKeyId$/m);
    // Rollover's role signs with it; nothing else is granted on keys.
    expect(ROLLOVER_KEY_VAULT_DATA_ACTIONS).toContain("Microsoft.KeyVault/vaults/keys/sign/action");
  });
});

describe("the generated vault name", () => {
  it("fits Key Vault's 24 characters with or without the suffix the postdown hook sets", () => {
    const abbrs = JSON.parse(read("infra/abbreviations.json")) as Record<string, string>;
    const prefix = abbrs.keyVaultVaults as string;
    const expr = /^var generatedKeyVaultName = (.*)$/m.exec(main)?.[1] ?? "";
    const takes = [...expr.matchAll(/take\(resourceToken, (\d+)\)/g)].map((m) => Number(m[1]));
    const maxSuffix = Number(
      /@maxLength\((\d+)\)\s+(@description\('[^\n]*'\)\s+)?param keyVaultNameSuffix string/.exec(main)?.[1],
    );
    expect(takes).toHaveLength(2);
    expect(`${prefix}rollover-`.length + (takes[0] as number)).toBeLessThanOrEqual(24);
    expect(`${prefix}rollover-`.length + (takes[1] as number) + maxSuffix).toBeLessThanOrEqual(24);
    expect(mainParams.keyVaultNameSuffix?.value).toBe(interp("ROLLOVER_KEY_VAULT_NAME_SUFFIX"));
  });
});

describe("azd hooks", () => {
  const yaml = read("azure.yaml");

  it("exist for POSIX shells and PowerShell alike", () => {
    const runs = [...yaml.matchAll(/^ +run: (\S+)$/gm)].map((m) => m[1] as string);
    expect(runs.length).toBeGreaterThanOrEqual(6);
    for (const r of runs) expect(existsSync(join(root, r)), r).toBe(true);
    for (const hook of ["postprovision", "postdeploy", "postdown"]) {
      const section = new RegExp(`^ {2}${hook}:\\n((?: {4,}.*\\n)+)`, "m").exec(yaml)?.[1] ?? "";
      expect(section, hook).toMatch(new RegExp(`posix:\\s+shell: sh\\s+run: \\./infra/hooks/${hook}\\.sh`));
      expect(section, hook).toMatch(
        new RegExp(`windows:\\s+shell: pwsh\\s+run: \\./infra/hooks/${hook}\\.ps1`),
      );
    }
  });

  it("wire triggers after every deploy and never leave the flag set", () => {
    // The flag is a parameter only: no output writes it back into the azd environment.
    expect(main).not.toMatch(/^output ROLLOVER_WIRE_TRIGGERS/m);
    const sh = read("infra/hooks/postdeploy.sh");
    expect(sh).not.toMatch(/already wired|exit 0/);
    expect(sh).toMatch(/trap reset EXIT/);
    expect(sh).toMatch(/azd env set ROLLOVER_WIRE_TRIGGERS true\nazd provision --no-prompt/);
    expect(sh).toMatch(/reset\(\) \{ azd env set ROLLOVER_WIRE_TRIGGERS false/);
    const ps = read("infra/hooks/postdeploy.ps1");
    expect(ps).toMatch(/finally \{\s+azd env set ROLLOVER_WIRE_TRIGGERS false/);
    for (const down of ["infra/hooks/postdown.sh", "infra/hooks/postdown.ps1"]) {
      const text = read(down);
      expect(text, down).toContain("azd env set ROLLOVER_WIRE_TRIGGERS false");
      expect(text, down).toContain("azd env set ROLLOVER_KEY_VAULT_NAME_SUFFIX");
      expect(text, down).toContain("ROLLOVER_KEY_VAULT_CREATED");
    }
    expect(main).toMatch(
      /output ROLLOVER_KEY_VAULT_CREATED string = useExistingKeyVault \? 'false' : 'true'/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Files the Bicep loads
// ---------------------------------------------------------------------------------------------

describe("loaded files", () => {
  const loads = Object.entries(code).flatMap(([file, src]) =>
    [...src.matchAll(/load(?:Text|Json)Content\('([^']+)'\)/g)].map((m) =>
      relative(root, resolve(root, dirname(file), m[1] as string))
        .split("\\")
        .join("/"),
    ),
  );

  it("exist", () => {
    const missing = loads.filter((p) => !existsSync(join(root, p)));
    expect(missing).toEqual([]);
  });

  it("include every saved query in infra/queries and every Workbook in infra/workbook", () => {
    const files = [
      ...listFiles(join(infra, "queries"), ".kql"),
      ...listFiles(join(infra, "workbook"), ".json"),
    ];
    const notDeployed = files
      .map((f) => relative(root, f).split("\\").join("/"))
      .filter((f) => !loads.includes(f));
    expect(notDeployed, "load these from infra/app/loganalytics.bicep or infra/app/monitoring.bicep").toEqual(
      [],
    );
    expect(loads.some((f) => f.startsWith("infra/workbook/"))).toBe(true);
  });

  it("parameters file maps only azd variables docs/deploy.md documents", () => {
    const doc = read("docs/deploy.md");
    for (const { value } of Object.values(mainParams)) {
      const name = /^\$\{(\w+)/.exec(value)?.[1] as string;
      expect(doc, name).toContain(`| \`${name}\` |`);
    }
  });

  it("parameters file names only parameters main.bicep declares", () => {
    const declared = new Set([...main.matchAll(/^param (\w+) /gm)].map((m) => m[1]));
    for (const name of Object.keys(mainParams)) expect(declared, name).toContain(name);
  });
});
