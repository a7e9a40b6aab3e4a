/**
 * Removing unused credentials: only with ROLLOVER_REMOVE_UNUSED, in remove mode, through every
 * guardrail (first sight and the grace window, never the last valid credential, only with a
 * permission Rollover holds: managed mode, owner, Application.ReadWrite.OwnedBy). Sign-in activity
 * is read with the optional AuditLog.Read.All. (Grants are made before this file's first token.)
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { SandboxHandle } from "../../../sandbox/index.js";
import { Reason } from "../../../shared/core/reasons.js";
import { useSandbox } from "../../helpers/sandbox.js";
import { DAY, freshTenant, HOUR, sweep } from "./helpers.js";

const sb = useSandbox({ seed: "empty", azurite: true });

beforeEach(async () => {
  const h = sb();
  await freshTenant(h);
  for (const role of ["Application.ReadWrite.OwnedBy", "AuditLog.Read.All"])
    h.ctx.directory.grantAppRole(h.urls.tenantId, h.ctx.managedIdentity.objectId, role);
});

/** An application Rollover owns with secrets last used the given number of days ago (undefined: never). */
function ownedAppWithSecrets(h: SandboxHandle, name: string, lastUsedDaysAgo: Array<number | undefined>) {
  const t = h.urls.tenantId;
  const now = h.ctx.clock.now();
  const app = h.ctx.directory.createApplication(t, { displayName: name });
  h.ctx.directory.addOwner(t, app.id, h.ctx.managedIdentity.objectId);
  const secrets = lastUsedDaysAgo.map((days) => {
    const pw = h.ctx.directory.addPasswordCredential(t, app.id, {
      startDateTime: new Date(now - 200 * DAY).toISOString(),
      endDateTime: new Date(now + 100 * DAY).toISOString(),
    });
    if (days !== undefined)
      h.ctx.signIns.add({
        time: new Date(now - days * DAY).toISOString(),
        tenantId: t,
        clientId: app.appId,
        credentialType: "secret",
        credential: pw.keyId,
        keyId: pw.keyId,
        resource: "https://graph.microsoft.com",
        success: true,
      });
    return pw.keyId;
  });
  return { app, secrets };
}

const passwords = (h: SandboxHandle, id: string) =>
  h.ctx.directory.get(h.urls.tenantId, id)!.passwordCredentials.map((p) => p.keyId);

describe("removing unused credentials", () => {
  it("only with ROLLOVER_REMOVE_UNUSED, never the last valid credential", async () => {
    const h = sb();
    const two = ownedAppWithSecrets(h, "two-secrets", [150, 1]);
    const one = ownedAppWithSecrets(h, "one-secret", [150]);
    const managed = { ROLLOVER_MANAGED_MODE: "true" };
    // First sight, then past the grace window (1 h): without the setting nothing unused goes.
    await sweep(h, managed);
    await h.ctx.clock.advance(2 * HOUR);
    const off = await sweep(h, managed);
    expect(off.s.findings[Reason.CredentialUnused]).toBe(2);
    expect(off.audit.events.some((e) => e.reason === Reason.RemoveUnused)).toBe(false);
    expect(passwords(h, two.app.id)).toEqual(two.secrets);

    // With it, an unused credential becomes a removal candidate: first seen now, held for the
    // grace window, removed on a later run.
    const remove = { ...managed, ROLLOVER_REMOVE_UNUSED: "true" };
    const first = await sweep(h, remove);
    expect(first.s.held[Reason.GuardGraceWindow]).toBe(2);
    expect(passwords(h, two.app.id)).toEqual(two.secrets);
    await h.ctx.clock.advance(2 * HOUR);
    const on = await sweep(h, remove);
    expect(on.s.failed).toBe(0);
    expect(passwords(h, two.app.id)).toEqual([two.secrets[1]]);
    expect(on.audit.events).toContainEqual(
      expect.objectContaining({
        action: "sweepRemoval",
        outcome: "succeeded",
        reason: Reason.RemoveUnused,
        keyId: two.secrets[0],
      }),
    );
    // one-secret's only valid credential is unused too: held back.
    expect(on.audit.events).toContainEqual(
      expect.objectContaining({ reason: Reason.GuardLastValidCredential, keyId: one.secrets[0] }),
    );
    expect(passwords(h, one.app.id)).toEqual(one.secrets);
  });

  it("not without a permission Rollover holds: managed mode off, the unused secret is RemovalNotPermitted", async () => {
    const h = sb();
    const two = ownedAppWithSecrets(h, "two-secrets-self", [150, 1]);
    await sweep(h, { ROLLOVER_REMOVE_UNUSED: "true" });
    await h.ctx.clock.advance(2 * HOUR);
    const { s } = await sweep(h, { ROLLOVER_REMOVE_UNUSED: "true" });
    expect(s.removed).toBe(0);
    expect(s.held[Reason.RemovalNotPermitted]).toBeGreaterThan(0);
    expect(passwords(h, two.app.id)).toEqual(two.secrets);
  });
});
