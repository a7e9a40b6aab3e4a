/**
 * The one listing of bindings from vault tags (real Key Vault SDK against the sandbox): every
 * certificate with a rollover-* tag, malformed ones included with their reason, and nothing else;
 * reconcile takes them all (the engine refuses a malformed one with its reason).
 */
import { ManagedIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { listBindings } from "../../../shared/azure/bindings.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { Reason } from "../../../shared/core/reasons.js";
import { listBindingRefs } from "../../../shared/rotation/reconcile.js";
import { seedDueBinding, useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

describe("listBindings", () => {
  const sb = useSandbox({ seed: "empty" });

  it("yields every tagged certificate, valid or not, and no untagged one", async () => {
    const h = sb();
    const { app } = await seedDueBinding(h, "listed-app", { expiresInDays: 200 });
    await h.ctx.vault.createCertificate("listed-typo", {
      tags: { "rollover-target": app.id, "rollover-target-type": "aplication" },
    });
    await h.ctx.vault.createCertificate("listed-untagged", { tags: { owner: "someone" } });
    useSandboxIdentity(h);
    const vault = new VaultEdge(
      h.urls.vaultUrl,
      new ManagedIdentityCredential({ clientId: h.ctx.managedIdentity.clientId }),
    );

    const seen = new Map<string, { ok: boolean; reason?: string }>();
    for await (const b of listBindings([vault])) {
      expect(b.vault).toBe(vault);
      seen.set(b.certificateName, b.parsed.ok ? { ok: true } : { ok: false, reason: b.parsed.reason });
    }
    expect(seen.get("listed-app")).toEqual({ ok: true });
    expect(seen.get("listed-typo")).toEqual({ ok: false, reason: Reason.BindingTagsInvalid });
    expect(seen.has("listed-untagged")).toBe(false);

    const refs = (await listBindingRefs([vault])).map((r) => r.certificateName);
    expect(refs).toEqual(expect.arrayContaining(["listed-app", "listed-typo"]));
    expect(refs).not.toContain("listed-untagged");
  });
});
