import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, renderConfigTable, SETTINGS } from "../../shared/config.js";

describe("settings", () => {
  it("has a default for every setting that needs none from the user", () => {
    const c = loadConfig({});
    expect(c.renewBeforeDays).toBe(30);
    expect(c.sweepMode).toBe("report");
    expect(c.maxRemovalsPerRun).toBe(10);
    expect(c.graphBaseUrl).toBe("https://graph.microsoft.com");
    expect(c.vaultUrls).toBeUndefined();
  });

  it("parses lists, booleans, numbers and URLs", () => {
    const c = loadConfig({
      ROLLOVER_VAULT_URLS: "https://a.vault.azure.net/, https://b.vault.azure.net",
      ROLLOVER_MANAGED_MODE: "TRUE",
      ROLLOVER_RENEW_AT_LIFETIME_FRACTION: "0.5",
      ROLLOVER_SWEEP_MODE: "Remove",
    });
    expect(c.vaultUrls).toEqual(["https://a.vault.azure.net", "https://b.vault.azure.net"]);
    expect(c.managedMode).toBe(true);
    expect(c.renewAtLifetimeFraction).toBe(0.5);
    expect(c.sweepMode).toBe("remove");
  });

  it("reports every problem at once, naming each variable and what is expected", () => {
    let err: ConfigError | undefined;
    try {
      loadConfig(
        {
          ROLLOVER_RENEW_BEFORE_DAYS: "soon",
          ROLLOVER_SWEEP_MODE: "delete-everything",
          ROLLOVER_GRAPH_BASE_URL: "http://graph.example",
          ROLLOVER_MAX_REMOVALS_PER_RUN: "-1",
          AZURE_TENANT_ID: "contoso",
        },
        ["vaultUrls"],
      );
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const byVar = Object.fromEntries(err!.problems.map((p) => [p.env, p.message]));
    expect(Object.keys(byVar).sort()).toEqual(
      [
        "AZURE_TENANT_ID",
        "ROLLOVER_GRAPH_BASE_URL",
        "ROLLOVER_MAX_REMOVALS_PER_RUN",
        "ROLLOVER_RENEW_BEFORE_DAYS",
        "ROLLOVER_SWEEP_MODE",
        "ROLLOVER_VAULT_URLS",
      ].sort(),
    );
    expect(byVar.ROLLOVER_SWEEP_MODE).toMatch(/one of report, remove/);
    expect(byVar.ROLLOVER_GRAPH_BASE_URL).toMatch(/https:\/\//);
    expect(byVar.ROLLOVER_MAX_REMOVALS_PER_RUN).toMatch(/at least 0/);
    expect(byVar.ROLLOVER_VAULT_URLS).toMatch(/missing/);
    expect(err!.message).not.toMatch(/\n\s+at /); // no stack trace in the message
  });

  it("never echoes a storage key back in an error", () => {
    try {
      loadConfig({ AzureWebJobsStorage__accountName: "AccountKey=c2VjcmV0c2VjcmV0;Bad" });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toMatch(/c2VjcmV0/);
    }
  });

  it("the README's configuration table is the one the schema generates", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(m, "README.md must hold the generated table between config-table markers").not.toBeNull();
    expect(m![1]).toBe(renderConfigTable());
  });

  it("every setting has a description and an env name", () => {
    for (const s of Object.values(SETTINGS)) {
      expect(s.env).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      expect(s.description.length).toBeGreaterThan(10);
    }
  });
});
