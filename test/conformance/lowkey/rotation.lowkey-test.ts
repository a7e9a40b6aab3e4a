/**
 * A rotation end to end with Key Vault from Lowkey Vault, an independent Key Vault emulator, and
 * Entra/Graph from the sandbox: the engine takes any VaultEdge. Differences between Lowkey Vault
 * and Key Vault are listed in keyvault.lowkey-test.ts.
 */
import { createPrivateKey } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import type { CertificatePolicy } from "@azure/keyvault-certificates";
import { beforeAll, describe, expect, it } from "vitest";
import type { SandboxHandle } from "../../../sandbox/index.js";
import { buildPfx } from "../../../sandbox/keyvault/pkcs12.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import { makeEngine } from "../../helpers/engine.js";
import { makeCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const skip = process.env.LOWKEY_SKIP;
const lowkeyUrl = process.env.LOWKEY_VAULT_URL;
if (skip) console.warn(`Lowkey Vault lane skipped: ${skip}`);
else console.info(`Lowkey Vault: ${process.env.LOWKEY_INFO ?? ""}`);

/** Lowkey Vault checks that a bearer token is present, not what it says. */
const anyToken: TokenCredential = {
  getToken: async () => ({ token: "conformance", expiresOnTimestamp: Date.now() + HOUR }),
};

/** A full policy: both vaults accept it (see the note on defaults above). */
function policy(subject: string): CertificatePolicy {
  return {
    issuerName: "Self",
    subject,
    validityInMonths: 12,
    keyType: "RSA",
    keySize: 2048,
    exportable: false,
    reuseKey: false,
    contentType: "application/x-pkcs12",
    keyUsage: ["digitalSignature"],
    lifetimeActions: [{ action: "EmailContacts", lifetimePercentage: 80 }],
  };
}

describe.skipIf(!!skip)(
  "rotation end to end: Key Vault from Lowkey Vault, Entra and Graph from the sandbox",
  () => {
    const sb = useSandbox({ seed: "empty", azurite: true });
    let h: SandboxHandle;
    let edge: VaultEdge;
    beforeAll(() => {
      h = sb();
      edge = new VaultEdge(lowkeyUrl!, anyToken);
    });

    it("renews in Lowkey Vault, attaches and verifies in the sandbox tenant, retires after the grace window", async () => {
      const tenant = h.urls.tenantId;
      // Rollover's identity reads targets with Application.Read.All (the demo seed grants it too).
      h.ctx.directory.grantAppRole(tenant, h.ctx.managedIdentity.objectId, "Application.Read.All");
      const app = h.ctx.directory.createApplication(tenant, { displayName: "lowkey-bound-app" });
      const name = `lk-rotation-${Date.now().toString(36)}`;
      // The vault and the sandbox keep different clocks (Lowkey Vault the real one), so the binding
      // starts with an imported certificate already 300 days into its 365: due for renewal now,
      // while the version Key Vault issues is not (so exactly one renewal).
      const old = await makeCert({
        subject: `CN=${name}`,
        notBefore: new Date(Date.now() - 300 * DAY),
        notAfter: new Date(Date.now() + 65 * DAY),
      });
      const pkcs8 = new Uint8Array(createPrivateKey(old.keyPem).export({ type: "pkcs8", format: "der" }));
      const imported = await edge.client.importCertificate(name, buildPfx(old.der, pkcs8), {
        policy: policy(`CN=${name}`),
        // Lowkey Vault wants a password; the PFX has none, and Key Vault takes it without one.
        password: "",
        tags: { "rollover-target": app.id, "rollover-mode": "self" },
      });
      const firstVersion = imported.properties.version!;
      h.ctx.directory.addKeyCredential(tenant, app.id, {
        certificateDer: old.der,
        displayName: `CN=${name}`,
      });

      const { engine, audit } = makeEngine(h, {
        vaults: new Map([[edge.name, edge]]),
        settings: { ROLLOVER_RENEW_BUFFER_HOURS: "0" },
      });
      const out = await engine.reconcile({ vaultName: edge.name, certificateName: name });
      expect(out.steps.map((s) => s.kind)).toEqual(["renew", "attach", "verify", "wait"]);
      const versions = (await edge.observe(name))!.versions;
      expect(versions).toHaveLength(2);
      const newest = versions.find((v) => v.version !== firstVersion)!;
      const keys = h.ctx.directory.get(tenant, app.id)!.keyCredentials;
      expect(keys).toHaveLength(2);
      const signIn = h.ctx.signIns
        .entries()
        .find((e) => e.clientId === app.appId && e.success && e.credential === newest.thumbprint);
      expect(signIn).toBeDefined();

      await h.ctx.clock.advance(73 * HOUR);
      const last = await engine.reconcile({ vaultName: edge.name, certificateName: name });
      expect(last.steps.map((s) => s.kind)).toEqual(["retire", "none"]);
      const after = h.ctx.directory.get(tenant, app.id)!.keyCredentials;
      expect(after).toHaveLength(1);
      const second = await edge.material(name, newest.version);
      expect(Buffer.from(after[0]!.key).equals(Buffer.from(second.cer))).toBe(true);
      expect((await edge.observe(name))!.versions).toHaveLength(2);
      expect(audit.events.map((e) => `${e.action}:${e.outcome}`)).toEqual(
        expect.arrayContaining([
          "renew:succeeded",
          "attach:succeeded",
          "verify:succeeded",
          "retire:succeeded",
        ]),
      );
    });
  },
);
