/**
 * What keyVaultEvents does with each kind of event; the engine is represented by the
 * `reconcile` port the handler is given (the real engine runs in test/e2e).
 */
import type { TokenCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { MemoryAuditSink } from "../../../shared/audit/events.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { type EventDeps, handleKeyVaultEvent, RetryableEventError } from "../../../shared/events/index.js";
import type { BindingOutcome, BindingRef, BindingResult } from "../../../shared/rotation/engine.js";

const ID = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/contoso-kv";
const vault = new VaultEdge("https://contoso-kv.vault.azure.net", {
  getToken: async () => null,
} as TokenCredential);

function setup(result: BindingResult = "converged") {
  const audit = new MemoryAuditSink();
  const calls: Array<{ ref: BindingRef }> = [];
  const deps: EventDeps = {
    vaults: new Map([[vault.name, vault]]),
    allowedVaults: [ID],
    audit,
    reconcile: async (ref) => {
      calls.push({ ref });
      return { ref, result, phase: "active", steps: [], reason: "UpToDate", message: "m" } as BindingOutcome;
    },
  };
  return { audit, calls, deps };
}

function kvEvent(eventType: string, over: Record<string, unknown> = {}) {
  return {
    id: "e1",
    topic: ID,
    subject: "payments",
    eventType,
    eventTime: "2026-01-01T00:00:00Z",
    data: {
      Id: "https://contoso-kv.vault.azure.net/certificates/payments/v2",
      VaultName: "contoso-kv",
      ObjectType: "Certificate",
      ObjectName: "payments",
      Version: "v2",
      NBF: 1700000000,
      EXP: 1800000000,
    },
    dataVersion: "1",
    metadataVersion: "1",
    ...over,
  };
}

describe("keyVaultEvents handling", () => {
  it.each([
    "Microsoft.KeyVault.CertificateNearExpiry",
    "Microsoft.KeyVault.CertificateExpired",
    "Microsoft.KeyVault.CertificateNewVersionCreated",
  ])("%s only wakes the reconcile of the binding it names (no signal passed on)", async (type) => {
    const { calls, deps } = setup();
    const out = await handleKeyVaultEvent(kvEvent(type), deps);
    expect(out.status).toBe("handled");
    expect(calls).toEqual([{ ref: { vaultName: "contoso-kv", certificateName: "payments" } }]);
  });

  it.each([
    ["data.Id in another vault", { Id: "https://evil-kv.vault.azure.net/certificates/payments/v2" }],
    ["data.VaultName of another vault", { VaultName: "evil-kv" }],
  ])("refuses an allowed topic whose %s: no reconcile, audited", async (_n, data) => {
    const { audit, calls, deps } = setup();
    const evil = new VaultEdge("https://evil-kv.vault.azure.net", {
      getToken: async () => null,
    } as TokenCredential);
    // Both vaults configured: the attack is an allowed topic steering Rollover to the other one.
    deps.vaults = new Map([
      [vault.name, vault],
      [evil.name, evil],
    ]);
    const base = kvEvent("Microsoft.KeyVault.CertificateNearExpiry");
    const out = await handleKeyVaultEvent({ ...base, data: { ...base.data, ...data } }, deps);
    expect(out).toMatchObject({ status: "rejected", reason: "EventVaultMismatch" });
    expect(calls).toEqual([]);
    expect(audit.events).toEqual([
      expect.objectContaining({ action: "eventRejected", outcome: "failed", reason: "EventVaultMismatch" }),
    ]);
  });

  it("rejects a vault not on the allow list: acknowledged, no reconcile, audited", async () => {
    const { audit, calls, deps } = setup();
    const out = await handleKeyVaultEvent(
      kvEvent("Microsoft.KeyVault.CertificateNearExpiry", { topic: ID.replace("contoso-kv", "evil-kv") }),
      deps,
    );
    expect(out).toMatchObject({ status: "rejected", reason: "VaultNotAllowed" });
    expect(calls).toEqual([]);
    expect(audit.events).toEqual([
      expect.objectContaining({
        action: "eventRejected",
        outcome: "skipped",
        reason: "VaultNotAllowed",
        certificateName: "payments",
        certificateVersion: "v2",
        notAfter: new Date(1800000000 * 1000).toISOString(),
      }),
    ]);
  });

  it("ignores unknown types, other object types and malformed events, and audits each", async () => {
    const { audit, calls, deps } = setup();
    const outs = [
      await handleKeyVaultEvent(kvEvent("Microsoft.KeyVault.SecretNearExpiry"), deps),
      await handleKeyVaultEvent(
        kvEvent("Microsoft.KeyVault.CertificateNearExpiry", {
          data: { ObjectType: "Key", ObjectName: "k", VaultName: "contoso-kv" },
        }),
        deps,
      ),
      await handleKeyVaultEvent({ hello: "world" }, deps),
    ];
    expect(outs.map((o) => o.status)).toEqual(["ignored", "ignored", "ignored"]);
    expect(audit.events.map((e) => `${e.action}:${e.reason}`)).toEqual([
      "eventIgnored:UnhandledEventType",
      "eventIgnored:NotACertificate",
      "eventIgnored:MalformedEvent",
    ]);
    expect(calls).toEqual([]);
  });

  it("rejects an allowed vault that is not configured in ROLLOVER_VAULT_URLS", async () => {
    const { audit, deps } = setup();
    const out = await handleKeyVaultEvent(
      kvEvent("Microsoft.KeyVault.CertificateNearExpiry", {
        topic: ID.replace("contoso-kv", "second-kv"),
        data: {
          Id: "https://second-kv.vault.azure.net/certificates/c/v",
          VaultName: "second-kv",
          ObjectName: "c",
        },
      }),
      { ...deps, allowedVaults: [ID, "second-kv"] },
    );
    expect(out).toMatchObject({ status: "rejected", reason: "VaultNotConfigured" });
    expect(audit.events[0]).toMatchObject({ action: "eventRejected", reason: "VaultNotConfigured" });
  });

  it.each(["locked", "failed"] as const)(
    "throws when the binding was %s, so the platform delivers again",
    async (r) => {
      const { deps } = setup(r);
      await expect(
        handleKeyVaultEvent(kvEvent("Microsoft.KeyVault.CertificateNearExpiry"), deps),
      ).rejects.toBeInstanceOf(RetryableEventError);
    },
  );

  it.each(["converged", "waiting", "refused"] as const)("acknowledges a binding that is %s", async (r) => {
    const { deps } = setup(r);
    const out = await handleKeyVaultEvent(kvEvent("Microsoft.KeyVault.CertificateNewVersionCreated"), deps);
    expect(out.status).toBe("handled");
  });

  it("reads the CloudEvents form the same way", async () => {
    const { calls, deps } = setup();
    const e = kvEvent("Microsoft.KeyVault.CertificateNearExpiry");
    await handleKeyVaultEvent(
      {
        id: e.id,
        source: e.topic,
        specversion: "1.0",
        type: e.eventType,
        subject: e.subject,
        time: e.eventTime,
        data: e.data,
      },
      deps,
    );
    expect(calls).toHaveLength(1);
  });
});
