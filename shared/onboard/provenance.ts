/**
 * Provenance of the first version `rollover bind` creates: Rollover caused Key Vault to issue it
 * (a certificate operation Rollover started, a key Key Vault generated under a non-exportable
 * policy), so it counts as issued by Rollover, like every version `renew` asks for later
 * (shared/core/provenance.ts).
 */
import type { Rollover } from "../app.js";
import type { VaultEdge } from "../azure/keyvault.js";
import { EMPTY_STATE, type StateRecord } from "../core/model.js";
import { isTrustedVersion, markIssuedByRollover } from "../core/provenance.js";

/** Records in the binding's state record that Rollover had Key Vault issue this version. */
export async function recordIssuedByRollover(
  r: Rollover,
  vault: VaultEdge,
  certificateName: string,
  issued: { version: string; requestId: string | undefined },
  now: number,
): Promise<void> {
  if (!issued.requestId)
    throw new Error(`Key Vault named no certificate operation for ${certificateName}; run bind again`);
  const prev = (await r.state.get(vault.name, certificateName)) ?? EMPTY_STATE;
  await r.state.put(
    vault.name,
    certificateName,
    markIssuedByRollover(prev, issued.version, issued.requestId, now),
    "pending",
  );
}

/**
 * Whether bind may go on with an existing version (an earlier run that stopped before the key was
 * on the target): only one Rollover issued (or a person adopted). A version someone else added
 * (an imported key) is never put on a target by bind.
 */
export function issuedByRollover(state: StateRecord | undefined, version: string): boolean {
  return state?.provenance !== undefined && isTrustedVersion(state, version);
}
