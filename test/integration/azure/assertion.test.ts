/**
 * A target's own credential (certificateCredential) against the sandbox's Entra, with the key in
 * the sandbox's Key Vault: one token request costs one Key Vault `sign`, and a later token
 * request gets an assertion of its own.
 */
import { ManagedIdentityCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../../sandbox/seeds.js";
import { ASSERTION_REUSE_MS, certificateCredential } from "../../../shared/azure/entra.js";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import type { DigestSigner } from "../../../shared/azure/signed-jwt.js";
import { useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox({ seed: "demo" });

describe("certificateCredential", () => {
  it("signs once per token request; a later request signs a new assertion", async () => {
    const h = sb();
    useSandboxIdentity(h);
    const vault = new VaultEdge(
      h.urls.vaultUrl,
      new ManagedIdentityCredential({ clientId: h.ctx.managedIdentity.clientId }),
    );
    const app = DEMO.apps.payments;
    const m = await vault.material(app.certificate, h.ctx.vault.latest(app.certificate)!.version);
    const keyVaultSign = vault.signer(m.kid);
    const digests: string[] = [];
    const sign: DigestSigner = async (alg, digest) => {
      digests.push(Buffer.from(digest).toString("hex"));
      return keyVaultSign(alg, digest);
    };
    let now = h.ctx.clock.now();
    const credential = certificateCredential({
      authorityHost: h.urls.authorityHost,
      tenantId: h.urls.tenantId,
      clientId: app.appId,
      certificate: m,
      sign,
      now: () => now,
    });
    const signIns = () => h.ctx.signIns.entries().filter((e) => e.clientId === app.appId && e.success);

    expect((await credential.getToken("https://graph.microsoft.com/.default"))?.token).toBeTruthy();
    expect(digests).toHaveLength(1);
    expect(signIns()).toHaveLength(1);

    // Another resource: MSAL asks Entra again, with an assertion (and jti) of its own.
    now += ASSERTION_REUSE_MS;
    expect((await credential.getToken("https://vault.azure.net/.default"))?.token).toBeTruthy();
    expect(digests).toHaveLength(2);
    expect(new Set(digests).size).toBe(2);
    expect(signIns()).toHaveLength(2);
  });
});
