/**
 * Rollover's own writes against eventual consistency.
 *
 * Entra is eventually consistent: a write that succeeded is not always visible to the next read
 * (devblogs.microsoft.com/identity, "designing for eventual consistency for Microsoft Entra").
 * The engine remembers in the state record each change to a target that Graph accepted. For a
 * bounded time (`trustMs`) after that, Rollover trusts its own write over a read that does not
 * show it: a key it attached counts as there, a key it removed counts as gone. So a stale read
 * never makes it add a key twice, repeat a removal, or take a removal for failed. A read that
 * shows the write confirms it and ends the trust early; after `trustMs` the read is the truth
 * again (a write that never replicated is then redone, the safe direction).
 */
import type { KeyCredential, OwnWrite, Target } from "./model.js";
import type { EpochMs } from "./time.js";

/** How long Rollover trusts its own accepted write over a read that does not show it. */
export const OWN_WRITE_TRUST_MS = 15 * 60_000;

export interface OwnWritesView {
  /** The target with Rollover's unconfirmed writes applied. */
  target: Target | undefined;
  /** Writes the read does not show yet and that are still trusted. */
  unconfirmed: OwnWrite[];
}

function shows(target: Target, w: OwnWrite): boolean {
  return w.kind === "attach"
    ? target.keyCredentials.some((k) => k.thumbprint === w.thumbprint)
    : !target.keyCredentials.some((k) => k.keyId === w.keyId);
}

/** Applies the still-trusted writes a read does not show yet. Pure. */
export function withOwnWrites(
  target: Target | undefined,
  writes: readonly OwnWrite[] | undefined,
  now: EpochMs,
  trustMs: number,
): OwnWritesView {
  if (!target || !writes?.length) return { target, unconfirmed: [] };
  const unconfirmed = writes.filter((w) => now - w.at < trustMs && !shows(target, w));
  if (unconfirmed.length === 0) return { target, unconfirmed };
  let keys: KeyCredential[] = [...target.keyCredentials];
  for (const w of unconfirmed) {
    if (w.kind === "retire") keys = keys.filter((k) => k.keyId !== w.keyId);
    else
      keys.push({
        keyId: w.keyId,
        displayName: null,
        type: "AsymmetricX509Cert",
        usage: "Verify",
        start: w.start,
        end: w.end,
        thumbprint: w.thumbprint,
      });
  }
  return { target: { ...target, keyCredentials: keys }, unconfirmed };
}
