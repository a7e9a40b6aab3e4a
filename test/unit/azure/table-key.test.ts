/**
 * One escape for every Table key Rollover writes (binding state, leases, audit chains and spool):
 * nothing Table storage refuses in a PartitionKey or RowKey survives it, and the names Rollover
 * keys by (Key Vault names, the audit writer's names) are their own keys.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultWriterId } from "../../../shared/audit/writer.js";
import { tableKey } from "../../../shared/azure/storage.js";

// learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model
// ("Characters disallowed in key fields").
// biome-ignore lint/suspicious/noControlCharactersInRegex: the disallowed characters are the point
const DISALLOWED = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

describe("tableKey", () => {
  it("leaves no character Table storage refuses in a key, and keeps the length", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const k = tableKey(s);
        expect(k).not.toMatch(DISALLOWED);
        expect([...k]).toHaveLength([...s].length);
      }),
    );
  });

  it("keys a Key Vault name by the name itself", () => {
    // Vault and certificate names: letters, digits and hyphens.
    const name = fc.stringMatching(/^[0-9A-Za-z-]{1,127}$/);
    fc.assert(
      fc.property(name, (n) => {
        expect(tableKey(n)).toBe(n);
      }),
    );
  });

  it("keys a writer name by the name itself", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (site, writer) => {
        const id = defaultWriterId({ WEBSITE_SITE_NAME: site, ROLLOVER_AUDIT_WRITER: writer });
        expect(tableKey(id)).toBe(id);
      }),
    );
  });

  it("replaces each refused character by _", () => {
    expect(tableKey("kv/cert#1?\\x\u0001\u0085")).toBe("kv_cert_1__x__");
  });
});
