/**
 * Key Vault names are case-insensitive: two spellings of one certificate are one binding, with
 * one lease and one state record (Azurite, the real storage SDKs).
 */
import { describe, expect, it } from "vitest";
import { LeaseManager, STATE_TABLE, StateStore, tableClient } from "../../../shared/azure/storage.js";
import { bindingKey } from "../../../shared/rotation/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

describe("lease and state keys fold case", () => {
  const sb = useSandbox({ seed: "empty", azurite: true });

  it("a second spelling of a held binding is locked", async () => {
    const storage = { connectionString: sb().env.AzureWebJobsStorage };
    const leases = LeaseManager.fromSettings(storage);
    const first = await leases.acquire(
      bindingKey({ vaultName: "Contoso-KV", certificateName: "Payments-API" }),
    );
    expect(first).toBeDefined();
    try {
      const second = await leases.acquire(
        bindingKey({ vaultName: "contoso-kv", certificateName: "payments-api" }),
      );
      expect(second).toBeUndefined();
      // The raw manager folds too, whoever builds the key.
      expect(await leases.acquire("CONTOSO-KV/PAYMENTS-API")).toBeUndefined();
    } finally {
      await first?.release();
    }
  });

  it("one state record, whatever the spelling; a record under the old, unfolded key is still read", async () => {
    const storage = { connectionString: sb().env.AzureWebJobsStorage };
    const table = tableClient(storage, STATE_TABLE);
    const store = new StateStore(table);
    await store.put("Contoso-KV", "Orders-Worker", { attempts: 2, failedStep: "verify" }, "attached");
    expect(await store.get("contoso-kv", "orders-worker")).toMatchObject({
      attempts: 2,
      failedStep: "verify",
    });
    // Written before keys were folded (the original spelling as key).
    await table.upsertEntity({
      partitionKey: "Legacy-KV",
      rowKey: "Old-Cert",
      attempts: 1,
      verifiedVersion: "v1",
    });
    expect(await store.get("Legacy-KV", "Old-Cert")).toMatchObject({ attempts: 1, verifiedVersion: "v1" });
  });
});
