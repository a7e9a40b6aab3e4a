/**
 * The bindings the vaults declare: every certificate with a `rollover-*` tag, its tags read by
 * the core (`bindingFromTags`). A certificate whose tags are malformed is yielded too, with the
 * reason (`parsed.ok === false`): each caller decides what such a binding means to it (reconcile
 * refuses it with its reason, the sweep protects its keys, an alert skips it).
 *
 * One `listPropertiesOfCertificates` per vault, read as it goes: nothing is held but the
 * certificate at hand.
 */
import { type BindingParse, bindingFromTags } from "../core/binding.js";
import type { VaultEdge } from "./keyvault.js";

export interface ListedBinding<V> {
  vault: V;
  certificateName: string;
  parsed: BindingParse;
}

export async function* listBindings<V extends Pick<VaultEdge, "name" | "listCertificates">>(
  vaults: Iterable<V>,
): AsyncGenerator<ListedBinding<V>> {
  for (const vault of vaults) {
    for await (const c of vault.listCertificates()) {
      const parsed = bindingFromTags(vault.name, c.name, c.tags);
      if (parsed) yield { vault, certificateName: c.name, parsed };
    }
  }
}
