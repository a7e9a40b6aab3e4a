/**
 * The sandbox vault's own issuance on the virtual clock: AutoRenew lifetime actions, and
 * certificates seeded with validity in the past or future.
 */
import { X509Certificate } from "node:crypto";
import { CertificateClient, type CertificatePolicy } from "@azure/keyvault-certificates";
import { describe, expect, it } from "vitest";
import type { CertificateVersionInfo } from "../../../sandbox/types.js";
import { useSandbox } from "../../helpers/sandbox.js";
import { sandboxCredential } from "./kv-helpers.js";

const sb = useSandbox();
const DAY = 86400;

function client() {
  // A new client after each clock move: its cached token was issued on the old virtual time.
  return new CertificateClient(sb().urls.vaultUrl, sandboxCredential(sb), {
    disableChallengeResourceVerification: true,
  });
}

describe("Key Vault: seeded certificates and auto-renewal on the virtual clock", () => {
  it("seeds real certificates whose validity is set relative to the virtual clock", async () => {
    const vault = sb().ctx.vault;
    const now = sb().ctx.clock.nowSeconds();
    const seen: CertificateVersionInfo[] = [];
    vault.onNewVersion((i) => seen.push(i));
    const expired = await vault.createCertificate("seed-expired", {
      policy: { subject: "CN=seed-expired" },
      notBefore: now - 400 * DAY,
      expires: now - 35 * DAY,
      tags: { "rollover-target": "obj-1" },
    });
    const future = await vault.createCertificate("seed-future", {
      policy: { subject: "CN=seed-future", exportable: false },
      notBefore: now + 10 * DAY,
      expires: now + 100 * DAY,
    });
    expect(seen.map((s) => s.name)).toEqual(["seed-expired", "seed-future"]);
    const x = new X509Certificate(Buffer.from(expired.cerDer));
    expect(Math.floor(new Date(x.validFrom).getTime() / 1000)).toBe(now - 400 * DAY);
    expect(Math.floor(new Date(x.validTo).getTime() / 1000)).toBe(now - 35 * DAY);
    expect(x.subject).toBe("CN=seed-expired");
    expect(expired.created).toBeLessThanOrEqual(now);

    const got = await client().getCertificate("seed-expired");
    expect(got.properties.expiresOn?.getTime()).toBe((now - 35 * DAY) * 1000);
    expect(got.properties.tags).toEqual({ "rollover-target": "obj-1" });
    expect(vault.versions("seed-future")[0]?.notBefore).toBe(future.notBefore);
    expect(vault.certificateNames()).toEqual(expect.arrayContaining(["seed-expired", "seed-future"]));
  });

  it("issues a new version itself when the clock passes the AutoRenew trigger (lifetime_percentage)", async () => {
    const vault = sb().ctx.vault;
    const seen: CertificateVersionInfo[] = [];
    vault.onNewVersion((i) => {
      if (i.name === "auto-pct") seen.push(i);
    });
    const first = await vault.createCertificate("auto-pct", {
      policy: {
        subject: "CN=auto-pct",
        validityInMonths: 12,
        lifetimeActions: [{ trigger: { lifetime_percentage: 50 }, action: { action_type: "AutoRenew" } }],
      },
      tags: { "rollover-target": "obj-2" },
    });
    await sb().ctx.clock.advance(150 * DAY * 1000);
    expect(vault.versions("auto-pct")).toHaveLength(1);
    const before = sb().ctx.clock.nowSeconds();
    await sb().ctx.clock.advance(40 * DAY * 1000);
    const versions = vault.versions("auto-pct");
    expect(versions).toHaveLength(2);
    expect(seen.map((s) => s.version)).toEqual([first.version, versions[1]?.version]);
    const renewed = await client().getCertificate("auto-pct");
    expect(renewed.properties.version).toBe(versions[1]?.version);
    // Tags are replicated on autorenewal.
    expect(renewed.properties.tags).toEqual({ "rollover-target": "obj-2" });
    // Valid from 10 minutes before it was issued, which was during the move.
    const x = new X509Certificate(Buffer.from(renewed.cer as Uint8Array));
    const issued = new Date(x.validFrom).getTime() / 1000 + 600;
    expect(issued).toBeGreaterThanOrEqual(before + 40 * DAY);
    expect(issued).toBeLessThanOrEqual(sb().ctx.clock.nowSeconds());
    // No second renewal for the same version.
    await sb().ctx.clock.advance(1000);
    expect(vault.versions("auto-pct")).toHaveLength(2);
  });

  it("renews on days_before_expiry set through the SDK, and never for an EmailContacts-only policy", async () => {
    const vault = sb().ctx.vault;
    await vault.createCertificate("auto-days", { policy: { subject: "CN=auto-days", validityInMonths: 3 } });
    await vault.createCertificate("email-only", {
      policy: {
        subject: "CN=email-only",
        validityInMonths: 3,
        lifetimeActions: [{ trigger: { days_before_expiry: 10 }, action: { action_type: "EmailContacts" } }],
      },
    });
    await client().updateCertificatePolicy("auto-days", {
      lifetimeActions: [{ action: "AutoRenew", daysBeforeExpiry: 20 }],
    } as CertificatePolicy);
    const exp = vault.latest("auto-days")?.expires as number;
    await sb().ctx.clock.setTo((exp - 21 * DAY) * 1000);
    expect(vault.versions("auto-days")).toHaveLength(1);
    await sb().ctx.clock.setTo((exp - 19 * DAY) * 1000);
    expect(vault.versions("auto-days")).toHaveLength(2);
    expect(vault.versions("email-only")).toHaveLength(1);
  });

  it("resets to an empty vault", async () => {
    const vault = sb().ctx.vault;
    vault.reset();
    expect(vault.certificateNames()).toEqual([]);
    await expect(client().getCertificate("auto-pct")).rejects.toMatchObject({ code: "CertificateNotFound" });
  });
});
