/**
 * Provenance against the sandbox: someone with Key Vault Certificates Officer imports a version
 * whose private key they hold into a bound certificate (or has Key Vault issue one Rollover did
 * not ask for). Its events are delivered and the binding reconciled: the foreign key never
 * reaches the target, and the refusal is audited as needing a person. A person then adopts a
 * version on purpose (`rollover adopt`), audited with who ran it, and Rollover attaches it.
 */
import { CertificateClient } from "@azure/keyvault-certificates";
import { describe, expect, it } from "vitest";
import { adopt } from "../../../cli/run.js";
import { handleKeyVaultEvent } from "../../../shared/events/handle.js";
import { encryptedPfx, issuedCert } from "../../helpers/pfx.js";
import { makeEngine, seedDueBinding } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";
import { sandboxCredential } from "../sandbox/kv-helpers.js";

const DAY = 86_400_000;

describe("only versions Rollover issued, or a person adopted, are attached", () => {
  const sb = useSandbox({ seed: "empty", azurite: true });
  const certs = () =>
    new CertificateClient(sb().urls.vaultUrl, sandboxCredential(sb), {
      disableChallengeResourceVerification: true,
    });
  const thumbs = (objectId: string) =>
    sb()
      .ctx.directory.get(sb().urls.tenantId, objectId)!
      .keyCredentials.map((k) => Buffer.from(k.customKeyIdentifier, "base64").toString("hex").toUpperCase());

  /** The Event Grid events Key Vault sends for a new version, through the handler, to the engine. */
  async function deliverEvents(name: string, engine: ReturnType<typeof makeEngine>) {
    const h = sb();
    const info = h.ctx.vault.latest(name)!;
    for (const eventType of [
      "Microsoft.KeyVault.CertificateNewVersionCreated",
      "Microsoft.KeyVault.CertificateNearExpiry",
    ]) {
      await handleKeyVaultEvent(
        {
          id: `${eventType}-${info.version}`,
          topic: h.urls.vaultResourceId,
          subject: name,
          eventType,
          eventTime: new Date(h.ctx.clock.now()).toISOString(),
          data: {
            Id: info.id,
            VaultName: h.urls.vaultName,
            ObjectType: "Certificate",
            ObjectName: name,
            Version: info.version,
            NBF: info.notBefore,
            EXP: info.expires,
          },
          dataVersion: "1",
          metadataVersion: "1",
        },
        {
          vaults: engine.deps.vaults,
          allowedVaults: [h.urls.vaultResourceId],
          audit: engine.audit,
          reconcile: (ref) => engine.engine.reconcile(ref),
        },
      ).catch(() => undefined); // a refusal that needs a person is thrown for redelivery
    }
  }

  it("an imported version with a foreign key is refused, audited, never attached; adopted on purpose it is", async () => {
    const h = sb();
    const { app, ref } = await seedDueBinding(h, "imported-cert", { expiresInDays: 300 });
    const e = makeEngine(h);
    expect((await e.engine.reconcile(ref)).result).toBe("converged");
    const before = thumbs(app.id);

    // The attacker's certificate and key, imported with the binding's tags.
    const made = await issuedCert({ notBefore: new Date(h.ctx.clock.now() - DAY) });
    const pfx = encryptedPfx([made.leaf, made.ca], made.pkcs8, "pw");
    const imported = await certs().importCertificate(ref.certificateName, pfx, {
      password: "pw",
      tags: { "rollover-target": app.id },
    });
    await deliverEvents(ref.certificateName, e);
    const out = await e.engine.reconcile(ref);

    expect(out.result).toBe("refused");
    expect(out.reason).toBe("VersionNotIssuedByRollover");
    expect(thumbs(app.id)).toEqual(before);
    expect(thumbs(app.id)).not.toContain(made.sha1Hex);
    const refusals = e.audit.events.filter((x) => x.reason === "VersionNotIssuedByRollover");
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.every((x) => x.action === "refuse" && x.outcome === "failed")).toBe(true);
    expect(e.audit.events.some((x) => x.action === "attach" && x.outcome === "succeeded")).toBe(false);

    // A person adopts it on purpose; the record names them (from their token's claims).
    const code = await adopt(ref.certificateName, {
      version: imported.properties.version!,
      env: h.env,
      now: () => h.ctx.clock.now(),
    });
    expect(code).toBe(0);
    const adopted = h.ctx.logs.records().map((r) => r.record);
    const rec = adopted.find((r) => r.Action === "adopt" && r.CertificateName === ref.certificateName);
    expect(rec).toMatchObject({ Outcome: "succeeded", Reason: "VersionAdopted" });
    expect(String(rec!.Actor)).toContain(h.ctx.managedIdentity.objectId);
    const after = await e.engine.reconcile(ref);
    expect(after.steps.map((s) => s.kind)).toContain("attach");
    expect(thumbs(app.id)).toContain(made.sha1Hex);
  });

  it("a version Key Vault issued for someone else's create is refused too; Rollover's own renewal attaches", async () => {
    const h = sb();
    const { app, ref } = await seedDueBinding(h, "foreign-create", { expiresInDays: 300 });
    const e = makeEngine(h);
    await e.engine.reconcile(ref);
    const before = thumbs(app.id);
    // Someone else asks Key Vault for a version (an exportable key they could take away).
    const poller = await certs().beginCreateCertificate(
      ref.certificateName,
      { issuerName: "Self", subject: "CN=foreign", exportable: true },
      { tags: { "rollover-target": app.id }, intervalInMs: 50 },
    );
    await poller.pollUntilDone();
    const out = await e.engine.reconcile(ref);
    expect(out.reason).toBe("VersionNotIssuedByRollover");
    expect(thumbs(app.id)).toEqual(before);

    // Rollover's own renewal (once due: 2/3 of the newest version's year, before Key Vault's
    // 80 % AutoRenew of the foreign policy would issue yet another version) is attached.
    const f = makeEngine(h);
    await h.ctx.clock.advance(250 * DAY);
    const renewed = await f.engine.reconcile(ref);
    expect(renewed.steps.map((s) => s.kind).slice(0, 3), `${renewed.reason}: ${renewed.message}`).toEqual([
      "renew",
      "attach",
      "verify",
    ]);
    expect(thumbs(app.id)).toContain(h.ctx.vault.latest(ref.certificateName)!.thumbprintHex);
  });
});
