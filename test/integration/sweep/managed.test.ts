/**
 * The sweep in remove mode with managed mode on and its documented grants (docs/permissions.md):
 * Application.Read.All plus Application.ReadWrite.OwnedBy, and ownership of the targets Rollover
 * may change. (Granted before this file's first token: a token carries the roles of its issue.)
 */
import { beforeEach, describe, expect, it } from "vitest";
import { Reason } from "../../../shared/core/reasons.js";
import { makeCert } from "../../helpers/certs.js";
import { useSandbox } from "../../helpers/sandbox.js";
import {
  appWithExpiredSecret,
  DAY,
  expiredCert,
  freshTenant,
  graphWrites,
  HOUR,
  keyIds,
  sweep,
} from "./helpers.js";

const sb = useSandbox({ seed: "empty", azurite: true });

beforeEach(async () => {
  const h = sb();
  await freshTenant(h);
  h.ctx.directory.grantAppRole(
    h.urls.tenantId,
    h.ctx.managedIdentity.objectId,
    "Application.ReadWrite.OwnedBy",
  );
});

describe("managed mode: Rollover's identity changes only what it owns, one credential at a time", () => {
  it("managed mode: an expired secret on an app Rollover does not own is RemovalNotPermitted, and no write is sent", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const { app, expired } = appWithExpiredSecret(h, "not-ours");
    await sweep(h);
    await h.ctx.clock.advance(2 * HOUR);
    h.requestCounts.reset();
    // Managed mode on, Application.ReadWrite.OwnedBy granted, but Rollover does not own the app.
    const { s, audit } = await sweep(h, { ROLLOVER_MANAGED_MODE: "true" });
    expect(h.requestCounts.get().graph ?? 0).toBeGreaterThan(0);
    expect(graphWrites(h)).toBe(0);
    expect(s.removed).toBe(0);
    expect(s.held[Reason.RemovalNotPermitted]).toBe(1);
    const held = audit.events.find((e) => e.reason === Reason.RemovalNotPermitted)!;
    expect(held.keyId).toBe(expired.keyId);
    expect(held.message).toMatch(/owner of this target/);
    expect(h.ctx.directory.get(t, app.id)!.passwordCredentials).toHaveLength(2);
  });

  it("keeps a key added between the read and the removal (managed mode, owner)", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const mi = h.ctx.managedIdentity.objectId;
    const app = h.ctx.directory.createApplication(t, { displayName: "owned" });
    h.ctx.directory.addOwner(t, app.id, mi);
    const valid = await makeCert({ subject: "CN=valid" });
    h.ctx.directory.addKeyCredential(t, app.id, { certificateDer: valid.der });
    const old = await expiredCert();
    const expired = h.ctx.directory.addKeyCredential(t, app.id, { certificateDer: old.der });
    const managed = { ROLLOVER_MANAGED_MODE: "true" };
    await sweep(h, managed);
    await h.ctx.clock.advance(2 * HOUR);
    const added = await makeCert({ subject: "CN=added-concurrently" });
    let addedId = "";
    const { s, audit } = await sweep(h, managed, (d) => {
      d.onPage = ({ collection }) => {
        // Another party adds a key after the page was read, before the removal.
        if (collection === "applications" && !addedId)
          addedId = h.ctx.directory.addKeyCredential(t, app.id, { certificateDer: added.der }).keyId;
      };
    });
    expect(s.removed).toBe(0);
    expect(s.held[Reason.RemovalAborted]).toBe(1);
    expect(audit.events.some((e) => e.reason === Reason.RemovalAborted && e.keyId === expired.keyId)).toBe(
      true,
    );
    expect(keyIds(h, app.id)).toContain(addedId);
    expect(keyIds(h, app.id)).toContain(expired.keyId);
    // The next run reads the key that was added and removes only the expired one.
    const next = await sweep(h, managed);
    expect(next.s.removed).toBe(1);
    expect(next.s.paths).toEqual({ managed: 1 });
    expect(keyIds(h, app.id)).toHaveLength(2);
    expect(keyIds(h, app.id)).toContain(addedId);
    expect(keyIds(h, app.id)).not.toContain(expired.keyId);
  });

  it("spends one removal budget across runs: per hour, then again in the next hour", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const mi = h.ctx.managedIdentity.objectId;
    const now = h.ctx.clock.now();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const app = h.ctx.directory.createApplication(t, { displayName: `budget-${i}` });
      h.ctx.directory.addOwner(t, app.id, mi);
      h.ctx.directory.addPasswordCredential(t, app.id, {
        endDateTime: new Date(now + 300 * DAY).toISOString(),
      });
      h.ctx.directory.addPasswordCredential(t, app.id, {
        startDateTime: new Date(now - 400 * DAY).toISOString(),
        endDateTime: new Date(now - 30 * DAY).toISOString(),
      });
      ids.push(app.id);
    }
    const settings = { ROLLOVER_MANAGED_MODE: "true", ROLLOVER_MAX_REMOVALS_PER_HOUR: "2" };
    await sweep(h, settings);
    // Into a fresh hour with room for a whole run, then spend it across two runs.
    await h.ctx.clock.advance(HOUR + (HOUR - (h.ctx.clock.now() % HOUR)) + 60_000);
    const a = await sweep(h, settings);
    const b = await sweep(h, settings);
    expect(a.s.removed).toBe(2);
    expect(a.s.held[Reason.GuardRemovalBudget]).toBe(1);
    expect(b.s.removed).toBe(0);
    expect(b.s.held[Reason.GuardRemovalBudget]).toBe(1);
    await h.ctx.clock.advance(HOUR);
    const c = await sweep(h, settings);
    expect(c.s.removed).toBe(1);
    const left = ids.flatMap((id) => h.ctx.directory.get(t, id)!.passwordCredentials);
    expect(left).toHaveLength(3);
    expect(left.every((p) => Date.parse(p.endDateTime) > h.ctx.clock.now())).toBe(true);
  });

  it("removes at most the per-run cap from owned apps and defers the rest", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const owned: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { app } = appWithExpiredSecret(h, `owned-${i}`);
      h.ctx.directory.addOwner(t, app.id, h.ctx.managedIdentity.objectId);
      owned.push(app.id);
    }
    const settings = { ROLLOVER_MANAGED_MODE: "true", ROLLOVER_MAX_REMOVALS_PER_RUN: "3" };
    await sweep(h, settings);
    await h.ctx.clock.advance(2 * HOUR);
    const { s } = await sweep(h, settings);
    expect(s.failed).toBe(0);
    expect(s.removed).toBe(3);
    expect(s.paths).toEqual({ managed: 3 });
    expect(s.deferred).toBe(2);
    const now = h.ctx.clock.now();
    const secrets = owned.flatMap((id) => h.ctx.directory.get(t, id)!.passwordCredentials);
    expect(secrets.filter((p) => Date.parse(p.endDateTime) < now)).toHaveLength(2);
    expect(secrets.filter((p) => Date.parse(p.endDateTime) > now)).toHaveLength(5);
  });
});
