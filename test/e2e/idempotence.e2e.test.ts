/**
 * Event Grid delivers at least once and in no particular order: the same near-expiry event five
 * times, shuffled with new-version events and delivered at once, gives one renewal and one
 * attach. Events from a vault not on the allow list change nothing.
 */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../sandbox/seeds.js";
import { useSandbox } from "../helpers/sandbox.js";
import {
  auditRecords,
  certificateEvent,
  deliver,
  shuffled,
  thumbprintsOf,
  useServe,
} from "./serve-helpers.js";

const NEAR = "Microsoft.KeyVault.CertificateNearExpiry";
const NEW_VERSION = "Microsoft.KeyVault.CertificateNewVersionCreated";
const sb = useSandbox({ seed: "demo", azurite: true });
const serve = useServe(sb);

describe("keyVaultEvents is idempotent and checks the allow list", () => {
  it("the same near-expiry event five times, shuffled with new-version events → one renewal, one attach", async () => {
    const h = sb();
    const s = serve();
    const app = DEMO.apps.payments;
    const old = h.ctx.vault.latest(app.certificate)!;
    const near = certificateEvent(h, NEAR, app.certificate);
    const oldVersionCreated = certificateEvent(h, NEW_VERSION, app.certificate);
    const first = shuffled([near, near, near, near, near, oldVersionCreated, oldVersionCreated]);
    const tries = await Promise.all(first.map((e) => deliver(s, e)));
    expect(tries.every((n) => n >= 1)).toBe(true);

    const renewed = h.ctx.vault.latest(app.certificate)!;
    expect(renewed.version).not.toBe(old.version);
    // The new version's own event arrives late, twice, mixed with more copies of the first.
    const newVersionCreated = certificateEvent(h, NEW_VERSION, app.certificate);
    await Promise.all(
      shuffled([newVersionCreated, near, newVersionCreated, near], 3).map((e) => deliver(s, e)),
    );

    expect(h.ctx.vault.versions(app.certificate)).toHaveLength(2);
    expect(thumbprintsOf(h, app.id).sort()).toEqual([old.thumbprintHex, renewed.thumbprintHex].sort());
    const mine = auditRecords(h).filter(
      (r) => r.CertificateName === app.certificate && r.Outcome === "succeeded",
    );
    expect(mine.filter((r) => r.Action === "renew")).toHaveLength(1);
    expect(mine.filter((r) => r.Action === "attach")).toHaveLength(1);
    expect(mine.filter((r) => r.Action === "verify")).toHaveLength(1);
  });

  it("an event from a vault not on the allow list is acknowledged, changes nothing and is audited", async () => {
    const h = sb();
    const s = serve();
    const app = DEMO.apps.orders;
    const versions = h.ctx.vault.versions(app.certificate).length;
    const keys = thumbprintsOf(h, app.id);
    const foreign =
      "/subscriptions/00000000-0000-4000-8000-0000000000ff/resourceGroups/other/providers/Microsoft.KeyVault/vaults/other-kv";
    for (const type of [NEAR, "Microsoft.KeyVault.CertificateExpired", NEW_VERSION]) {
      const event = certificateEvent(h, type, app.certificate, { topic: foreign });
      expect(await deliver(s, event, 1)).toBe(1);
    }
    expect(h.ctx.vault.versions(app.certificate)).toHaveLength(versions);
    expect(thumbprintsOf(h, app.id)).toEqual(keys);
    const rejected = auditRecords(h).filter(
      (r) => r.Action === "eventRejected" && r.CertificateName === app.certificate,
    );
    expect(rejected).toHaveLength(3);
    expect(rejected.every((r) => r.Reason === "VaultNotAllowed" && r.Outcome === "skipped")).toBe(true);
    expect(
      auditRecords(h).filter(
        (r) => r.CertificateName === app.certificate && ["renew", "attach"].includes(String(r.Action)),
      ),
    ).toEqual([]);
  });

  it("an event type Rollover does not handle is acknowledged and audited as ignored", async () => {
    const h = sb();
    const s = serve();
    const event = certificateEvent(h, "Microsoft.KeyVault.SecretNearExpiry", DEMO.apps.orders.certificate);
    expect(await deliver(s, event, 1)).toBe(1);
    expect(
      auditRecords(h).some((r) => r.Action === "eventIgnored" && r.Reason === "UnhandledEventType"),
    ).toBe(true);
  });
});
