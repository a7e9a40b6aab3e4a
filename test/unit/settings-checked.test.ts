/** Settings are checked for real: GUID case, storage endpoints and http, the log level, jitter. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryAuditSink } from "../../shared/audit/events.js";
import { buildRollover, engineFor } from "../../shared/app.js";
import { storageEndpoint, tableClient } from "../../shared/azure/storage.js";
import { allowsInsecureConnection, connectionStringEndpoints, isLoopbackUrl } from "../../shared/config.js";
import { sameTenant } from "../../shared/core/ids.js";
import { createLogger, levelFromEnv } from "../../shared/log.js";

const ENV = {
  AZURE_TENANT_ID: "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
  ROLLOVER_VAULT_URLS: "https://contoso-kv.vault.azure.net",
  AzureWebJobsStorage: "UseDevelopmentStorage=true",
};

describe("tenant ids", () => {
  it("compare equal whatever their case and surrounding space", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.boolean(), (id, upper) => {
        expect(sameTenant(id, upper ? ` ${id.toUpperCase()} ` : id)).toBe(true);
      }),
    );
    expect(sameTenant("72f988bf-86f1-41af-91ab-2d7cd011db47", "72f988bf-86f1-41af-91ab-2d7cd011db48")).toBe(
      false,
    );
    expect(sameTenant(undefined, "x")).toBe(false);
  });

  it("Rollover built from an upper-case AZURE_TENANT_ID keeps it in lower case", () => {
    expect(buildRollover(ENV).config.tenantId).toBe("72f988bf-86f1-41af-91ab-2d7cd011db47");
  });
});

describe("storage", () => {
  it("endpoints by account name use the configured suffix (national clouds)", () => {
    expect(storageEndpoint({ accountName: "st1", endpointSuffix: "core.usgovcloudapi.net" }, "table")).toBe(
      "https://st1.table.core.usgovcloudapi.net",
    );
    const r = buildRollover({
      ...ENV,
      AzureWebJobsStorage: "",
      AzureWebJobsStorage__accountName: "rolloverst1",
      ROLLOVER_STORAGE_ENDPOINT_SUFFIX: "core.chinacloudapi.cn",
    });
    expect(r.storage.endpointSuffix).toBe("core.chinacloudapi.cn");
    expect(tableClient(r.storage, "T").url).toBe("https://rolloverst1.table.core.chinacloudapi.cn");
  });

  it("http is allowed only for endpoints on this machine", () => {
    expect(allowsInsecureConnection("UseDevelopmentStorage=true")).toBe(true);
    expect(
      allowsInsecureConnection(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
      ),
    ).toBe(true);
    expect(
      allowsInsecureConnection("TableEndpoint=http://localhost:10002/x;BlobEndpoint=http://[::1]:1/x"),
    ).toBe(true);
    expect(allowsInsecureConnection("TableEndpoint=http://storage.example.com/x")).toBe(false);
    expect(allowsInsecureConnection("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k")).toBe(false);
    expect(
      connectionStringEndpoints(
        "DefaultEndpointsProtocol=https;AccountName=a;EndpointSuffix=core.usgovcloudapi.net",
      ),
    ).toContain("https://a.table.core.usgovcloudapi.net");
    expect(isLoopbackUrl("http://127.0.0.2:1")).toBe(true);
    expect(isLoopbackUrl("http://127.example.com")).toBe(false);
  });

  it("missing storage is a settings error naming the variable, not a failure deep inside", () => {
    expect(() => buildRollover({ ...ENV, AzureWebJobsStorage: "" })).toThrow(/AzureWebJobsStorage: missing/);
  });
});

describe("ROLLOVER_LOG_LEVEL", () => {
  it("is read: debug lines appear only when asked for, bad values fall back to info", () => {
    expect(levelFromEnv({ ROLLOVER_LOG_LEVEL: "DEBUG" })).toBe("debug");
    expect(levelFromEnv({ ROLLOVER_LOG_LEVEL: "warn" })).toBe("warn");
    expect(levelFromEnv({})).toBe("info");
    expect(levelFromEnv({ ROLLOVER_LOG_LEVEL: "loud" })).toBe("info");
    const lines: string[] = [];
    const log = createLogger(
      (l, line) => lines.push(`${l} ${line}`),
      levelFromEnv({ ROLLOVER_LOG_LEVEL: "warn" }),
    );
    log.info("i");
    log.warn("w");
    log.debug("d");
    expect(lines).toEqual(["warn w"]);
  });
});

describe("back-off jitter", () => {
  it("is applied in production: the engine gets a random source unless a test passes its own", () => {
    const r = buildRollover(ENV);
    const engine = engineFor(r, { audit: new MemoryAuditSink() });
    const random = (engine as unknown as { deps: { random?: () => number } }).deps.random;
    expect(random).toBe(Math.random);
    const fixed = () => 0;
    const e2 = engineFor(r, { audit: new MemoryAuditSink(), random: fixed });
    expect((e2 as unknown as { deps: { random?: () => number } }).deps.random).toBe(fixed);
  });
});
