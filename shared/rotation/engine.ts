/**
 * The rotation engine: one binding at a time through pending → attached → verified → active.
 *
 * Each pass gathers what is observed (`gather.ts`: Key Vault versions, policy and pending
 * operation; the target's keyCredentials; the state record), asks the core for the next step,
 * and acts once (`steps.ts`), with intent and outcome on record around the change
 * (`journal.ts`). Passes repeat until the core says wait, none or refuse. Every step is
 * idempotent, so a crash at any point is recovered by running again: the observation, not the
 * journal, decides.
 */
import type { TokenCredential } from "@azure/identity";
import type { AuditSink } from "../audit/events.js";
import { nextAttemptAt } from "../core/backoff.js";
import {
  type BindingObservation,
  type BindingPlan,
  type BindingPolicy,
  type BindingStep,
  planBinding,
} from "../core/binding.js";
import type { Phase, StateRecord, Target } from "../core/model.js";
import { Reason, type ReasonCode } from "../core/reasons.js";
import type { GraphEdge } from "../azure/graph.js";
import type { VaultEdge } from "../azure/keyvault.js";
import type { LeaseManager, StateStore } from "../azure/storage.js";
import { permissionHint } from "../azure/target-clients.js";
import { errorSummary } from "../errors.js";
import { LeaseLostError, RotationContext } from "./context.js";
import {
  type Gathered,
  type GatherRefusal,
  gather,
  readOperationWhenItMatters,
  refreshTarget,
} from "./gather.js";
import { checkpoint, describe, recordIntent, settled, settleInFlight, settleProvenance } from "./journal.js";
import { attach, renew, retire, type StepInput, verify } from "./steps.js";

/** Names of the step boundaries, in order, for crash tests. */
export const BOUNDARIES = [
  "before-renew",
  // Key Vault took the create, Rollover has not recorded the operation yet: recovered from the
  // operation Key Vault still holds.
  "after-renew-request",
  "after-renew",
  "before-attach",
  "after-attach",
  "before-verify",
  "after-verify",
  "before-retire",
  "after-retire",
] as const;
export type Boundary = (typeof BOUNDARIES)[number];

export interface EngineDeps {
  vaults: ReadonlyMap<string, VaultEdge>;
  graph: GraphEdge;
  /** Rollover's own identity: reads targets, and writes in managed mode. */
  rollover: { credential: TokenCredential; tenantId: string; selfIds: readonly string[] };
  authorityHost: string;
  state: StateStore;
  leases: LeaseManager;
  audit: AuditSink;
  policy: BindingPolicy;
  verifyTimeoutMs: number;
  /** How long `renew` waits for Key Vault to finish issuing before leaving it to the next pass. */
  renewWaitMs: number;
  now: () => number;
  random?: () => number;
  dryRun?: boolean;
  /** Test hook: called at each step boundary (a crash test kills the process here). */
  onBoundary?: (b: Boundary) => void | Promise<void>;
  /** Credential of a target in another tenant (multi-tenant bindings); default: Rollover's own. */
  readCredentialFor?: (tenantId: string) => TokenCredential | undefined;
  /** The target's app management policy limit on certificate lifetime (checked before renew). */
  keyLifetimeLimit?: (target: Target) => Promise<number | undefined>;
}

export interface BindingRef {
  vaultName: string;
  certificateName: string;
}

export type BindingResult = "converged" | "waiting" | "refused" | "locked" | "failed" | "planned";

export interface BindingOutcome {
  ref: BindingRef;
  result: BindingResult;
  phase: Phase;
  steps: BindingStep[];
  /** Reason code of the last step or the failure. */
  reason: ReasonCode;
  message: string;
}

const MAX_PASSES = 8;

/** What `inspect` read about one binding: its observation and plan, or why it could not be read. */
export interface BindingInspection {
  ref: BindingRef;
  obs?: BindingObservation;
  plan?: BindingPlan;
  refusal?: { reason: ReasonCode; message: string };
}

/** Refusals that need a person: recorded as failed, so the rotation-failure alert fires. */
const NEEDS_PERSON: ReadonlySet<string> = new Set([
  Reason.RenewalNotSupported,
  Reason.NoSigningKey,
  Reason.VersionNotIssuedByRollover,
  Reason.KeyExportable,
  Reason.StepFailureLimit,
]);

/** The lease and state key of a binding: Key Vault names are case-insensitive, so folded. */
export function bindingKey(ref: BindingRef): string {
  return `${ref.vaultName}/${ref.certificateName}`.toLowerCase();
}

function isRefusal(g: Gathered | GatherRefusal): g is GatherRefusal {
  return "reason" in g;
}

/**
 * Steps decided on Graph's view of the target that must see it as it is now: a change of its
 * keys, and the wait for Graph to show Rollover's own last change (managed mode).
 */
function dependsOnFreshTarget(step: BindingStep): boolean {
  return (
    step.kind === "attach" ||
    step.kind === "retire" ||
    (step.kind === "wait" && step.reason === Reason.ReplicationPending)
  );
}

export class RotationEngine {
  private readonly ctx: RotationContext;

  constructor(private readonly deps: EngineDeps) {
    this.ctx = new RotationContext(deps);
  }

  /**
   * Reconciles one binding to a resting state, under its lease. What to do is decided from Key
   * Vault's and Graph's own data; whoever asked (an event, an alert, the timer) only wakes it.
   */
  async reconcile(ref: BindingRef, opts: { resetFailures?: boolean } = {}): Promise<BindingOutcome> {
    const lease = this.deps.dryRun ? undefined : await this.deps.leases.acquire(bindingKey(ref));
    if (!this.deps.dryRun && !lease) {
      // Not a failure: the run holding the lease observes Key Vault itself; callers retry later.
      this.ctx.emit(ref, undefined, undefined, {
        action: "wait",
        outcome: "skipped",
        reason: Reason.Locked,
        message: "another run holds this binding's lease; tried again later",
      });
      return {
        ref,
        result: "locked",
        phase: "pending",
        steps: [],
        reason: Reason.Locked,
        message: "another run holds this binding's lease",
      };
    }
    try {
      return await this.run(ref, lease?.signal, opts.resetFailures === true);
    } finally {
      await lease?.release();
    }
  }

  /**
   * Reads one binding (Key Vault, Graph, the state record) and plans its next step, changing
   * nothing: no lease, no writes, no audit record. `rollover status` is built on it.
   */
  async inspect(ref: BindingRef): Promise<BindingInspection> {
    let g: Gathered | GatherRefusal;
    try {
      g = await gather(this.ctx, ref, true);
    } catch (e) {
      return {
        ref,
        refusal: {
          reason: Reason.ReadFailed,
          message: `could not read the binding's state: ${errorSummary(e)}`,
        },
      };
    }
    if (isRefusal(g)) return { ref, refusal: { reason: g.reason, message: g.message } };
    return { ref, obs: g.obs, plan: planBinding(g.obs, this.deps.policy, this.deps.now()) };
  }

  private stop(
    ref: BindingRef,
    result: BindingResult,
    phase: Phase,
    steps: BindingStep[],
    reason: ReasonCode,
    message: string,
  ): BindingOutcome {
    return { ref, result, phase, steps, reason, message };
  }

  private async run(
    ref: BindingRef,
    signal: AbortSignal | undefined,
    resetFailures = false,
  ): Promise<BindingOutcome> {
    const ctx = this.ctx;
    const steps: BindingStep[] = [];
    let phase: Phase = "pending";
    // One observation for the run: gathered on the first pass, kept current by each step with what
    // it did (the state it saved, the version Key Vault issued), and read again only where a read
    // decides: after a step whose result only a read shows, and Graph's view of the target before
    // a Graph change that follows one of Rollover's own in this run.
    let kept: Gathered | undefined;
    let wroteGraph = false;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      let g: Gathered | GatherRefusal;
      try {
        if (kept && !kept.stale) {
          g = kept;
          await readOperationWhenItMatters(ctx, ref, g);
        } else {
          g = await gather(ctx, ref);
        }
      } catch (e) {
        return this.readFailed(ref, e, phase, steps);
      }
      if (isRefusal(g)) {
        ctx.emit(ref, undefined, undefined, {
          action: "refuse",
          outcome: "skipped",
          reason: g.reason,
          message: g.message,
        });
        return this.stop(ref, "refused", "pending", steps, g.reason, g.message);
      }
      kept = g;
      let plan = await this.settleAndPlan(ref, g, signal, resetFailures && pass === 0);
      if (wroteGraph && dependsOnFreshTarget(plan.step)) {
        try {
          await refreshTarget(ctx, ref, g);
        } catch (e) {
          return this.readFailed(ref, e, phase, steps);
        }
        wroteGraph = false;
        plan = planBinding(g.obs, this.deps.policy, this.deps.now());
      }
      phase = plan.phase;
      const step = plan.step;
      steps.push(step);
      const target = g.obs.target;
      const base = ctx.baseEvent(g.binding, target, plan.current);
      if (step.kind === "none") {
        if (pass === 0 || step.reason !== Reason.UpToDate) {
          this.deps.audit.emit({
            ...base,
            action: "wait",
            outcome: "skipped",
            reason: step.reason,
            message: "nothing to do",
          });
        }
        await ctx.saveState(ref, settled(ctx, g), plan.phase, signal);
        return this.stop(ref, "converged", plan.phase, steps, step.reason, "up to date");
      }
      if (step.kind === "wait") {
        const until = step.until !== undefined ? ` until ${new Date(step.until).toISOString()}` : "";
        this.deps.audit.emit({
          ...base,
          action: "wait",
          outcome: "skipped",
          reason: step.reason,
          message: `waiting${until}`,
        });
        await ctx.saveState(ref, settled(ctx, g), plan.phase, signal);
        return this.stop(ref, "waiting", plan.phase, steps, step.reason, `waiting${until}`);
      }
      if (step.kind === "refuse") {
        // Refusals that need a person (a certificate Key Vault cannot renew alone, a target with
        // no key to sign with, a version Rollover did not issue, a step that keeps failing) are
        // recorded as failed, so the rotation-failure alert fires.
        const needsPerson = NEEDS_PERSON.has(step.reason);
        this.deps.audit.emit({
          ...base,
          action: "refuse",
          outcome: needsPerson ? "failed" : "skipped",
          reason: step.reason,
          message: step.message,
        });
        return this.stop(ref, "refused", plan.phase, steps, step.reason, step.message);
      }
      if (this.deps.dryRun) {
        this.deps.audit.emit({
          ...base,
          action: step.kind,
          outcome: "planned",
          reason: step.reason,
          message: describe(step),
          dryRun: true,
        });
        return this.stop(ref, "planned", plan.phase, steps, step.reason, describe(step));
      }
      try {
        if (step.kind !== "verify") await recordIntent(ctx, ref, g, step, plan.phase, signal);
        const state = await this.act({ ctx, ref, g, phase: plan.phase, signal }, step);
        await checkpoint(ctx);
        await ctx.saveState(ref, state, plan.phase, signal);
        g.obs.state = state;
        if (step.kind === "attach" || step.kind === "retire") wroteGraph = true;
      } catch (e) {
        if (e instanceof LeaseLostError || signal?.aborted) {
          throw e instanceof LeaseLostError
            ? e
            : new LeaseLostError("the binding's lease was lost during the step; stopped");
        }
        const message = `${errorSummary(e)}${permissionHint(e, g.binding.targetType, step.kind)}`;
        // Failures of the same step in a row: N of them and the step is not tried on its own again.
        const same = g.obs.state.failedStep === step.kind;
        const attempts = same ? g.obs.state.attempts + 1 : 1;
        const failed: StateRecord = {
          ...g.obs.state,
          failedStep: step.kind as NonNullable<StateRecord["failedStep"]>,
          attempts,
          nextAttemptAt: nextAttemptAt(this.deps.now(), attempts, undefined, this.deps.random?.() ?? 0),
          lastError: `${step.kind}: ${message}`,
        };
        await ctx.saveState(ref, failed, plan.phase, signal).catch(() => undefined);
        this.deps.audit.emit({
          ...base,
          action: step.kind,
          outcome: "failed",
          reason: step.reason,
          message: `${describe(step)} failed: ${message}`,
        });
        return this.stop(ref, "failed", plan.phase, steps, step.reason, message);
      }
    }
    return this.stop(
      ref,
      "waiting",
      phase,
      steps,
      Reason.PassLimit,
      `stopped after ${MAX_PASSES} steps; the next run continues`,
    );
  }

  /**
   * Reading failed (throttled past the SDK's retries, an outage): nothing was changed by this
   * pass, so stop cleanly; the next run (or Event Grid's retry) starts again from what it reads.
   */
  private readFailed(ref: BindingRef, e: unknown, phase: Phase, steps: BindingStep[]): BindingOutcome {
    const message = `could not read the binding's state: ${errorSummary(e)}`;
    this.ctx.emit(ref, undefined, undefined, {
      action: "error",
      outcome: "failed",
      reason: Reason.ReadFailed,
      message,
    });
    return this.stop(ref, "failed", phase, steps, Reason.ReadFailed, message);
  }

  /**
   * Settles what an earlier run left (provenance of a version, an unfinished change), clears the
   * failure count when a person asked, and plans the next step.
   */
  private async settleAndPlan(
    ref: BindingRef,
    g: Gathered,
    signal: AbortSignal | undefined,
    resetFailures: boolean,
  ): Promise<BindingPlan> {
    const ctx = this.ctx;
    // Provenance is settled in a dry run too (in memory), so a plan shows what a run would do.
    await settleProvenance(ctx, ref, g, signal);
    if (!this.deps.dryRun) {
      await settleInFlight(ctx, ref, g, signal);
      // A person asked (`rollover rotate`): the failures counted so far no longer hold it back.
      if (resetFailures && (g.obs.state.failedStep || g.obs.state.nextAttemptAt)) {
        const { failedStep: _s, nextAttemptAt: _n, ...rest } = g.obs.state;
        g.obs.state = { ...rest, attempts: 0 };
        await ctx.saveState(ref, g.obs.state, "pending", signal);
      }
    }
    return planBinding(g.obs, this.deps.policy, this.deps.now());
  }

  /** Carries out one step; returns the state record to save. */
  private act(input: StepInput, step: BindingStep): Promise<StateRecord> {
    switch (step.kind) {
      case "renew":
        return renew(input, step);
      case "attach":
        return attach(input, step);
      case "verify":
        return verify(input, step);
      case "retire":
        return retire(input, step);
      default:
        return Promise.resolve(input.g.obs.state);
    }
  }
}
