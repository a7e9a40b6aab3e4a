/** What the sweep needs to know of bindings: which keys Key Vault backs, and which are current. */
import { sortVersions } from "./binding.js";
import type { Binding, CertificateVersion } from "./model.js";

export interface BindingLike {
  binding: Binding;
  versions: readonly CertificateVersion[];
}

/**
 * For each bound target (by object id, lower-case), the thumbprints of every Key Vault version of
 * its bindings; and the set of thumbprints that are some binding's newest enabled version.
 */
export function currentThumbprints(bindings: readonly BindingLike[]): {
  backedByTarget: Map<string, Set<string>>;
  current: Set<string>;
} {
  const backedByTarget = new Map<string, Set<string>>();
  const current = new Set<string>();
  for (const { binding, versions } of bindings) {
    const id = binding.targetId.toLowerCase();
    let set = backedByTarget.get(id);
    if (!set) {
      set = new Set();
      backedByTarget.set(id, set);
    }
    for (const v of versions) set.add(v.thumbprint);
    const newest = sortVersions(versions).find((v) => v.enabled);
    if (newest) current.add(newest.thumbprint);
  }
  return { backedByTarget, current };
}
