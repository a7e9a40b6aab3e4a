/** What the sweep needs to know of bindings: which keys Key Vault backs, and which are current. */
import { sortVersions } from "./binding.js";
import type { Binding, CertificateVersion } from "./model.js";

export interface BindingLike {
  binding: Binding;
  versions: readonly CertificateVersion[];
  /** Thumbprints Rollover attached to the target for this binding (from its state record). */
  attached?: readonly string[];
}

/**
 * For each bound target (by object id, lower-case), the thumbprints of every Key Vault version of
 * its bindings; and the set of thumbprints that are some binding's newest enabled version.
 */
export function currentThumbprints(bindings: readonly BindingLike[]): {
  backedByTarget: Map<string, Set<string>>;
  attachedByTarget: Map<string, Set<string>>;
  current: Set<string>;
} {
  const backedByTarget = new Map<string, Set<string>>();
  const attachedByTarget = new Map<string, Set<string>>();
  const current = new Set<string>();
  const setOf = (m: Map<string, Set<string>>, id: string): Set<string> => {
    let set = m.get(id);
    if (!set) {
      set = new Set();
      m.set(id, set);
    }
    return set;
  };
  for (const { binding, versions, attached } of bindings) {
    const id = binding.targetId.toLowerCase();
    const set = setOf(backedByTarget, id);
    const mine = setOf(attachedByTarget, id);
    for (const t of attached ?? []) mine.add(t.toUpperCase());
    for (const v of versions) set.add(v.thumbprint);
    const newest = sortVersions(versions).find((v) => v.enabled);
    if (newest) current.add(newest.thumbprint);
  }
  return { backedByTarget, attachedByTarget, current };
}
