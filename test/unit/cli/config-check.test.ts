/**
 * `rollover config` over empty, partial, upper-case and unsafe environments: the exit code and
 * exactly the variables it names. (Graph grants are checked against the sandbox in
 * test/integration/identity/config-grants.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { configCheck, parsePurposes } from "../../../cli/config.js";
import { exitCodeFor } from "../../../cli/main.js";
import { isConfigError, loadConfig } from "../../../shared/config.js";

const TENANT = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
const BASE = {
  AZURE_TENANT_ID: TENANT,
  ROLLOVER_VAULT_URLS: "https://contoso-kv.vault.azure.net",
  AzureWebJobsStorage: "UseDevelopmentStorage=true",
};

async function check(env: Record<string, string>, purposes: string[] = []) {
  let text = "";
  let stderr = "";
  let code: number;
  let named: string[] = [];
  try {
    code = await configCheck({ purposes: parsePurposes(purposes), env, out: (t) => (text += t) });
  } catch (e) {
    if (isConfigError(e)) named = e.problems.map((p) => p.env).sort();
    code = exitCodeFor(e, (l) => (stderr += l));
  }
  return { code, text, stderr, named };
}

describe("rollover config", () => {
  const cases: Array<{
    name: string;
    env: Record<string, string>;
    for?: string[];
    code: number;
    named: string[];
  }> = [
    {
      name: "empty environment, every purpose",
      env: {},
      code: 2,
      named: [
        "AZURE_TENANT_ID",
        "AzureWebJobsStorage",
        "ROLLOVER_ALLOWED_VAULTS",
        "ROLLOVER_DCR_IMMUTABLE_ID",
        "ROLLOVER_IDENTITY_OBJECT_ID",
        "ROLLOVER_LOGS_INGESTION_ENDPOINT",
        "ROLLOVER_VAULT_URLS",
      ],
    },
    {
      name: "empty environment, --for plan",
      env: {},
      for: ["plan"],
      code: 2,
      named: ["AZURE_TENANT_ID", "AzureWebJobsStorage", "ROLLOVER_VAULT_URLS"],
    },
    {
      name: "partial environment (tenant and vaults), --for apply",
      env: { AZURE_TENANT_ID: TENANT, ROLLOVER_VAULT_URLS: BASE.ROLLOVER_VAULT_URLS },
      for: ["apply"],
      code: 2,
      named: [
        "AzureWebJobsStorage",
        "ROLLOVER_DCR_IMMUTABLE_ID",
        "ROLLOVER_IDENTITY_OBJECT_ID",
        "ROLLOVER_LOGS_INGESTION_ENDPOINT",
      ],
    },
    {
      name: "partial environment, --for apply --for serve also names the allowed vaults",
      env: BASE,
      for: ["apply", "serve"],
      code: 2,
      named: [
        "ROLLOVER_ALLOWED_VAULTS",
        "ROLLOVER_DCR_IMMUTABLE_ID",
        "ROLLOVER_IDENTITY_OBJECT_ID",
        "ROLLOVER_LOGS_INGESTION_ENDPOINT",
      ],
    },
    { name: "upper-case GUIDs, --for plan", env: BASE, for: ["plan"], code: 0, named: [] },
    {
      name: "storage by account name is storage too",
      env: {
        AZURE_TENANT_ID: TENANT,
        ROLLOVER_VAULT_URLS: BASE.ROLLOVER_VAULT_URLS,
        AzureWebJobsStorage__accountName: "rolloverst123",
      },
      for: ["plan"],
      code: 0,
      named: [],
    },
    {
      name: "managed mode needs Rollover's object id even to plan",
      env: { ...BASE, ROLLOVER_MANAGED_MODE: "true" },
      for: ["plan"],
      code: 2,
      named: ["ROLLOVER_IDENTITY_OBJECT_ID"],
    },
    {
      name: "plain http storage on another host is refused; malformed values are named with the missing",
      env: {
        ...BASE,
        AzureWebJobsStorage:
          "DefaultEndpointsProtocol=http;AccountName=x;AccountKey=abc=;EndpointSuffix=core.windows.net",
        ROLLOVER_GRACE_HOURS: "soon",
      },
      code: 2,
      named: [
        "AzureWebJobsStorage",
        "ROLLOVER_ALLOWED_VAULTS",
        "ROLLOVER_DCR_IMMUTABLE_ID",
        "ROLLOVER_GRACE_HOURS",
        "ROLLOVER_IDENTITY_OBJECT_ID",
        "ROLLOVER_LOGS_INGESTION_ENDPOINT",
      ],
    },
  ];

  for (const c of cases) {
    it(`${c.name}: exit ${c.code}`, async () => {
      const r = await check(c.env, c.for);
      expect(r.code).toBe(c.code);
      expect(r.named).toEqual(c.named);
      if (c.code === 2) {
        for (const n of c.named) expect(r.stderr).toContain(`- ${n}:`);
        expect(r.stderr).not.toMatch(/AccountKey=abc/);
      } else {
        expect(r.text).toMatch(/^Settings are complete and valid for plan\.$/m);
      }
    });
  }

  it("an unknown --for is a usage error (exit 2)", async () => {
    const r = await check(BASE, ["deploy"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--for "deploy" is not a purpose; use plan, apply, serve/);
  });

  it("GUIDs are kept in lower case however they were typed", () => {
    const c = loadConfig({ ...BASE, ROLLOVER_IDENTITY_OBJECT_ID: "0F6B4C7E-0000-4000-8000-00000000000A" });
    expect(c.tenantId).toBe(TENANT.toLowerCase());
    expect(c.identityObjectId).toBe("0f6b4c7e-0000-4000-8000-00000000000a");
  });
});
