/**
 * Makes a page of targets whole before it is planned:
 *
 * - an object a `/delta` page names without its credential collections is read by id: a missing
 *   collection is unknown, never empty (learn.microsoft.com/graph/delta-query-overview: a changed
 *   object comes with its id and at least the properties that changed);
 * - a bound target's keys are read by id with `$select=keyCredentials`, because only that read
 *   carries each key's certificate (keycredential.md: `key` is "returned only on $select for a
 *   single object … otherwise, it is always null"), and a key's thumbprint comes from its
 *   certificate, never from `customKeyIdentifier`.
 *
 * Unbound targets are not read again: no rule that removes a key of theirs depends on its
 * thumbprint, and reading every object singly would cost a large tenant a request per object.
 *
 * The reads of a page go together, 20 to a Graph JSON batch (`GraphEdge.getTargets`), so N
 * changed objects cost about N / 20 requests rather than N.
 */
import type { Client } from "@microsoft/microsoft-graph-client";
import type { GraphEdge, TargetPage, TargetRef } from "../azure/graph.js";
import type { BindingLike } from "../core/bound.js";
import type { Target } from "../core/model.js";

export async function completeTargets(
  deps: { graph: GraphEdge; client: Client; tenantId: string },
  page: Pick<TargetPage, "targets" | "partial">,
  bindings: readonly BindingLike[],
): Promise<Target[]> {
  const bound = new Set(bindings.map((b) => b.binding.targetId.toLowerCase()));
  // In page order: a target as listed, or the index of its read.
  const slots: Array<Target | number> = [];
  const reads: TargetRef[] = [];
  const read = (ref: TargetRef) => {
    slots.push(reads.length);
    reads.push({ type: ref.type, id: ref.id });
  };
  for (const t of page.targets) {
    const unknownKeys = t.keyCredentials.some((k) => k.thumbprint === undefined);
    if (bound.has(t.id) && unknownKeys) read(t);
    else slots.push(t);
  }
  for (const p of page.partial) read(p);
  const whole = await deps.graph.getTargets(deps.client, deps.tenantId, reads);
  // A target gone since the page was read: nothing left to plan for it.
  return slots.flatMap((s) => {
    const t = typeof s === "number" ? whole[s] : s;
    return t ? [t] : [];
  });
}
