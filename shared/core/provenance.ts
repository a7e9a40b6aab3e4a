/**
 * Provenance: which certificate versions Rollover may put on a target.
 *
 * Anyone with a certificates-write role on the vault can add a version (import one whose private
 * key they hold). Rollover attaches only versions it caused Key Vault to issue (a certificate
 * operation it started, whose CSR carries the version's public key: Key Vault generated that
 * key), or that a person adopted on purpose. Pure functions over the state record.
 */
import type { EpochMs } from "./time.js";
import type { Provenance, StateRecord } from "./model.js";

/** How many issued and adopted versions a record remembers (older ones are long retired). */
export const PROVENANCE_KEEP = 20;

const EMPTY: Provenance = { issued: [], adopted: [] };

export function provenanceOf(state: StateRecord): Provenance {
  return state.provenance ?? EMPTY;
}

/**
 * Whether Rollover may attach `version`: issued by a renewal Rollover requested, or adopted.
 * Migration: a record written before provenance existed (no `provenance` at all) counts the
 * version it had verified as adopted, so bindings working today keep working.
 */
export function isTrustedVersion(state: StateRecord, version: string): boolean {
  if (!state.provenance) return state.verifiedVersion === version;
  const p = state.provenance;
  return p.issued.some((i) => i.version === version) || p.adopted.some((a) => a.version === version);
}

/**
 * Marks `version` as issued by Rollover (a certificate operation it started, `requestId`).
 * `rollover bind` calls this for the first version of a new binding it created itself.
 */
export function markIssuedByRollover(
  state: StateRecord,
  version: string,
  requestId: string,
  at: EpochMs,
): StateRecord {
  const p = withMigration(state);
  if (p.issued.some((i) => i.version === version)) return { ...state, provenance: p };
  const issued = [...p.issued, { version, requestId, at }].slice(-PROVENANCE_KEEP);
  const { pending, ...rest } = p;
  const keepPending = pending && pending.requestId !== requestId ? { pending } : {};
  return { ...state, provenance: { ...rest, issued, ...keepPending } };
}

/** Marks `version` as adopted by a person (`by`: their object id / user principal name). */
export function markAdopted(state: StateRecord, version: string, by: string, at: EpochMs): StateRecord {
  const p = withMigration(state);
  const adopted = [...p.adopted.filter((a) => a.version !== version), { version, by, at }].slice(
    -PROVENANCE_KEEP,
  );
  return { ...state, provenance: { ...p, adopted } };
}

/** Records the certificate operation Rollover just started (before its version is known). */
export function markRenewalRequested(
  state: StateRecord,
  op: { requestId: string; spkiSha256: string },
  at: EpochMs,
): StateRecord {
  const p = withMigration(state);
  return { ...state, provenance: { ...p, pending: { ...op, at } } };
}

/** The record's provenance with the migration applied (the verified version adopted). */
function withMigration(state: StateRecord): Provenance {
  if (state.provenance) return state.provenance;
  return {
    issued: [],
    adopted: state.verifiedVersion
      ? [{ version: state.verifiedVersion, by: "migration", at: state.verifiedAt ?? 0 }]
      : [],
  };
}
