/**
 * Reconcile every binding: the safety net for missed or failed Event Grid deliveries. Bindings
 * are found from Key Vault tags alone, then worked on with bounded concurrency, each under its
 * own lease, so a slow or failing binding never holds up the others.
 */
import { listBindings } from "../azure/bindings.js";
import type { VaultEdge } from "../azure/keyvault.js";
import { Reason } from "../core/reasons.js";
import { mapWithConcurrency } from "./concurrency.js";
import type { BindingOutcome, BindingRef, RotationEngine } from "./engine.js";

export async function listBindingRefs(vaults: Iterable<VaultEdge>): Promise<BindingRef[]> {
  // Malformed tags too: the engine refuses such a binding with its reason.
  const refs: BindingRef[] = [];
  for await (const { vault, certificateName } of listBindings(vaults)) {
    refs.push({ vaultName: vault.name, certificateName });
  }
  return refs;
}

export interface ReconcileSummary {
  outcomes: BindingOutcome[];
  counts: Record<BindingOutcome["result"], number>;
}

export async function reconcileAll(
  engine: RotationEngine,
  refs: readonly BindingRef[],
  opts: { concurrency: number; onProgress?: (done: number, total: number, last: BindingOutcome) => void },
): Promise<ReconcileSummary> {
  let done = 0;
  const outcomes = await mapWithConcurrency(refs, opts.concurrency, async (ref) => {
    let out: BindingOutcome;
    try {
      out = await engine.reconcile(ref);
    } catch (e) {
      out = {
        ref,
        result: "failed",
        phase: "pending",
        steps: [],
        reason: Reason.Error,
        message: (e as Error).message,
      };
    }
    done += 1;
    opts.onProgress?.(done, refs.length, out);
    return out;
  });
  const counts = { converged: 0, waiting: 0, refused: 0, locked: 0, failed: 0, planned: 0 };
  for (const o of outcomes) counts[o.result] += 1;
  return { outcomes, counts };
}
