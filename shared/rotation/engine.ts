/**
 * The rotation engine: one binding at a time through pending → attached → verified → active.
 *
 * Each pass gathers what is observed (Key Vault versions, policy and pending operation; the
 * target's keyCredentials; the state record), asks the core for the next step, and acts once.
 * Passes repeat until the core says wait, none or refuse. Every step is idempotent, so a crash
 * at any point is recovered by running again: the observation, not the journal, decides.
 */
import { randomUUID } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import type { Client } from "@microsoft/microsoft-graph-client";
import type { AuditEvent, AuditSink } from "../audit/events.js";
import { redact, redactionCounter } from "../audit/redact.js";
import { nextAttemptAt } from "../core/backoff.js";
import {
  type BindingObservation,
  type BindingPolicy,
  type BindingStep,
  bindingFromTags,
  type BindingPlan,
  planBinding,
  sortVersions,
} from "../core/binding.js";
import {
  type Binding,
  type CertificateVersion,
  EMPTY_STATE,
  type OwnWrite,
  type Phase,
  type StateRecord,
  type Target,
  withAttached,
} from "../core/model.js";
import { sameTenant } from "../core/ids.js";
import { isTrustedVersion, markIssuedByRollover, markRenewalRequested } from "../core/provenance.js";
import { Reason, type ReasonCode } from "../core/reasons.js";
import { OWN_WRITE_TRUST_MS, withOwnWrites } from "../core/own-writes.js";
import { thumbprintOfKey } from "../core/snapshot.js";
import { certificateCredential, verifyCredential } from "../azure/entra.js";
import { type GraphEdge, graphScope, isGraphNotFound } from "../azure/graph.js";
import type { OperationInfo, VaultEdge, VersionMaterial } from "../azure/keyvault.js";
import { proofOfPossession } from "../azure/signed-jwt.js";
import type { LeaseManager, StateStore } from "../azure/storage.js";

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

export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

const MAX_PASSES = 8;

/** What `inspect` read about one binding: its observation and plan, or why it could not be read. */
export interface BindingInspection {
  ref: BindingRef;
  obs?: BindingObservation;
  plan?: BindingPlan;
  refusal?: { reason: ReasonCode; message: string };
}

interface Gathered {
  binding: Binding;
  obs: BindingObservation;
  tags: Record<string, string>;
  /** Key Vault's certificate operation, if it still holds one. */
  operation?: OperationInfo;
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

export class RotationEngine {
  private readonly graphClients = new Map<string, Client>();

  constructor(private readonly deps: EngineDeps) {}

  private rolloverGraph(tenantId: string): Client {
    const key = `rollover/${tenantId}`;
    let c = this.graphClients.get(key);
    if (!c) {
      const cred = sameTenant(tenantId, this.deps.rollover.tenantId)
        ? this.deps.rollover.credential
        : (this.deps.readCredentialFor?.(tenantId) ?? this.deps.rollover.credential);
      c = this.deps.graph.client(cred);
      this.graphClients.set(key, c);
    }
    return c;
  }

  private vault(name: string): VaultEdge {
    const v = this.deps.vaults.get(name);
    if (!v) throw new Error(`vault ${name} is not configured (ROLLOVER_VAULT_URLS)`);
    return v;
  }

  /**
   * Reconciles one binding to a resting state, under its lease. What to do is decided from Key
   * Vault's and Graph's own data; whoever asked (an event, an alert, the timer) only wakes it.
   */
  async reconcile(ref: BindingRef, opts: { resetFailures?: boolean } = {}): Promise<BindingOutcome> {
    const lease = this.deps.dryRun ? undefined : await this.deps.leases.acquire(bindingKey(ref));
    if (!this.deps.dryRun && !lease) {
      // Not a failure: the run holding the lease observes Key Vault itself; callers retry later.
      this.emit(ref, undefined, undefined, {
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
    let g: Gathered | BindingOutcome;
    try {
      g = await this.gather(ref, true);
    } catch (e) {
      return {
        ref,
        refusal: {
          reason: Reason.ReadFailed,
          message: `could not read the binding's state: ${errorSummary(e)}`,
        },
      };
    }
    if ("result" in g) return { ref, refusal: { reason: g.reason, message: g.message } };
    return { ref, obs: g.obs, plan: planBinding(g.obs, this.deps.policy, this.deps.now()) };
  }

  private async gather(ref: BindingRef, readOnly = false): Promise<Gathered | BindingOutcome> {
    const vault = this.vault(ref.vaultName);
    const kv = await vault.observe(ref.certificateName);
    if (!kv) {
      return this.stop(
        ref,
        "refused",
        "pending",
        [],
        Reason.NoUsableVersion,
        `certificate ${ref.certificateName} not found in ${ref.vaultName}`,
      );
    }
    const parsed = bindingFromTags(vault.name, ref.certificateName, kv.tags);
    if (!parsed?.ok) {
      const reason = parsed ? parsed.reason : Reason.BindingTagsMissing;
      const message = parsed && !parsed.ok ? parsed.message : "the certificate has no rollover-* tags";
      return this.stop(ref, "refused", "pending", [], reason, message);
    }
    const binding = parsed.binding;
    const tenantId = binding.tenantId ?? this.deps.rollover.tenantId;
    const foreignTenant = !sameTenant(tenantId, this.deps.rollover.tenantId);
    let target: Target | undefined;
    if (foreignTenant) {
      // Rollover's identity has no standing in another tenant: it reads (and changes) the target
      // as the target itself, signing in with a certificate of this binding that is still valid.
      if (!binding.clientId) {
        return this.stop(
          ref,
          "refused",
          "pending",
          [],
          Reason.BindingTagsInvalid,
          "a target in another tenant needs the rollover-client-id tag (its application's client id)",
        );
      }
      target = await this.readAsTarget(vault, ref, tenantId, binding, kv.versions);
    } else {
      target = await this.deps.graph.getTarget(
        this.rolloverGraph(tenantId),
        tenantId,
        binding.targetType,
        binding.targetId,
      );
    }
    const state =
      (readOnly
        ? await this.deps.state.peek(ref.vaultName, ref.certificateName)
        : await this.deps.state.get(ref.vaultName, ref.certificateName)) ?? EMPTY_STATE;
    return {
      binding,
      tags: kv.tags,
      ...(kv.operation ? { operation: kv.operation } : {}),
      obs: {
        binding,
        versions: kv.versions,
        policy: kv.policy,
        target,
        state,
        renewalPending: kv.renewalPending,
        selfIds: this.deps.rollover.selfIds,
        foreignTenant,
        ...(await this.keyLifetimeLimitFor(target, foreignTenant)),
      },
    };
  }

  private async keyLifetimeLimitFor(target: Target | undefined, foreignTenant: boolean) {
    if (!target || foreignTenant || !this.deps.keyLifetimeLimit) return {};
    const limit = await this.deps.keyLifetimeLimit(target);
    return limit === undefined ? {} : { keyLifetimeLimitMs: limit };
  }

  /** Reads a target as itself, trying this binding's valid versions newest first. */
  private async readAsTarget(
    vault: VaultEdge,
    ref: BindingRef,
    tenantId: string,
    binding: Binding,
    versions: readonly CertificateVersion[],
  ): Promise<Target | undefined> {
    const now = this.deps.now();
    const candidates = [...versions]
      .filter((v) => v.enabled && v.notBefore <= now && now < v.expires)
      .sort((a, b) => b.created - a.created);
    let lastError: unknown;
    for (const v of candidates) {
      const m = await vault.material(ref.certificateName, v.version);
      const client = this.targetGraph(tenantId, binding.clientId!, m, vault);
      try {
        return await this.deps.graph.getTarget(client, tenantId, binding.targetType, binding.targetId);
      } catch (e) {
        lastError = e;
      }
    }
    if (lastError) throw lastError;
    return undefined;
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
    const steps: BindingStep[] = [];
    let phase: Phase = "pending";
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      let g: Gathered | BindingOutcome;
      try {
        g = await this.gather(ref);
      } catch (e) {
        // Reading failed (throttled past the SDK's retries, an outage): nothing was changed in this
        // pass, so stop cleanly; the next run (or Event Grid's retry) starts again from what it reads.
        const message = `could not read the binding's state: ${errorSummary(e)}`;
        this.emit(ref, undefined, undefined, {
          action: "error",
          outcome: "failed",
          reason: Reason.ReadFailed,
          message,
        });
        return this.stop(ref, "failed", phase, steps, Reason.ReadFailed, message);
      }
      if ("result" in g) {
        this.emit(ref, undefined, undefined, {
          action: "refuse",
          outcome: "skipped",
          reason: g.reason,
          message: g.message,
        });
        return { ...g, steps };
      }
      // Provenance is settled in a dry run too (in memory), so a plan shows what a run would do.
      await this.settleProvenance(ref, g, signal);
      if (!this.deps.dryRun) {
        await this.settleInFlight(ref, g, signal);
        // A person asked (`rollover rotate`): the failures counted so far no longer hold it back.
        if (resetFailures && pass === 0 && (g.obs.state.failedStep || g.obs.state.nextAttemptAt)) {
          const { failedStep: _s, nextAttemptAt: _n, ...rest } = g.obs.state;
          g.obs.state = { ...rest, attempts: 0 };
          await this.saveState(ref, g.obs.state, "pending", signal);
        }
      }
      const now = this.deps.now();
      const plan = planBinding(g.obs, this.deps.policy, now);
      phase = plan.phase;
      const step = plan.step;
      steps.push(step);
      const target = g.obs.target;
      const base = this.baseEvent(g.binding, target, plan.current);
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
        await this.saveState(ref, this.settled(g), plan.phase, signal);
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
        await this.saveState(ref, this.settled(g), plan.phase, signal);
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
        if (step.kind !== "verify") await this.intent(ref, g, step, plan.phase, signal);
        const state = await this.act(ref, g, step, plan.phase, signal);
        await this.checkpoint();
        await this.saveState(ref, state, plan.phase, signal);
      } catch (e) {
        if (e instanceof LeaseLostError || signal?.aborted) {
          throw e instanceof LeaseLostError
            ? e
            : new LeaseLostError("the binding's lease was lost during the step; stopped");
        }
        const message = `${errorSummary(e)}${permissionHint(e, g.binding, step)}`;
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
        await this.saveState(ref, failed, plan.phase, signal).catch(() => undefined);
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
   * Before a change: record the intent and make the record durable; after it: the same for the
   * outcome. A run killed in between leaves the intent on record, and the next run, which sees
   * the change done, goes on from there.
   */
  private async checkpoint(): Promise<void> {
    await this.deps.audit.flush?.();
  }

  private async intent(
    ref: BindingRef,
    g: Gathered,
    step: BindingStep,
    phase: Phase,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    this.emit(ref, g.binding, g.obs.target, {
      action: step.kind as AuditEvent["action"],
      outcome: "planned",
      reason: step.reason,
      message: `about to ${describe(step)}`,
    });
    await this.checkpoint();
    if (step.kind !== "renew" && step.kind !== "attach" && step.kind !== "retire") return;
    const thumbprint =
      step.kind === "attach" ? g.obs.versions.find((v) => v.version === step.version)?.thumbprint : undefined;
    const inFlight: NonNullable<StateRecord["inFlight"]> = {
      kind: step.kind,
      at: this.deps.now(),
      ...(step.kind === "retire" ? { keyId: step.keyId } : { version: step.version }),
      ...(thumbprint ? { thumbprint } : {}),
    };
    g.obs.state = { ...g.obs.state, inFlight };
    await this.saveState(ref, g.obs.state, phase, signal);
  }

  /**
   * A change an earlier run started and did not record as done (it died in between): if the
   * observation shows it took effect, record that now; either way the journal entry is cleared
   * (a renewal Key Vault is still issuing stays until it completes).
   */
  private async settleInFlight(ref: BindingRef, g: Gathered, signal: AbortSignal | undefined): Promise<void> {
    const f = g.obs.state.inFlight;
    if (!f) return;
    const target = g.obs.target;
    const newest = sortVersions(g.obs.versions).find((v) => v.enabled);
    const done =
      f.kind === "renew"
        ? newest !== undefined && newest.version !== f.version
        : f.kind === "attach"
          ? !!target?.keyCredentials.some((k) => k.thumbprint === f.thumbprint)
          : !!target && !target.keyCredentials.some((k) => k.keyId === f.keyId);
    if (!done && f.kind === "renew" && g.obs.renewalPending) return;
    if (done) {
      this.emit(ref, g.binding, target, {
        action: f.kind,
        outcome: "succeeded",
        reason: Reason.RecoveredStep,
        message: `${f.kind} ${f.version ?? f.keyId ?? ""} took effect in an earlier run that stopped before recording it`,
        ...(f.kind === "renew" && newest
          ? { certificateVersion: newest.version }
          : f.version
            ? { certificateVersion: f.version }
            : {}),
        ...(f.keyId ? { keyId: f.keyId } : {}),
        ...(f.thumbprint ? { thumbprint: f.thumbprint } : {}),
      });
      await this.checkpoint();
    }
    const { inFlight: _f, ...rest } = g.obs.state;
    g.obs.state = done && f.kind === "attach" && f.thumbprint ? withAttached(rest, f.thumbprint) : rest;
    await this.saveState(ref, g.obs.state, "pending", signal);
  }

  /**
   * Records which version Key Vault issued for the certificate operation Rollover started: the
   * newest version whose public key is the one in that operation's CSR. A run that died between
   * starting the operation and recording it (its journal says `renew`, no operation recorded)
   * takes the operation Key Vault still holds.
   */
  private async settleProvenance(
    ref: BindingRef,
    g: Gathered,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let state = g.obs.state;
    let changed = false;
    const op = g.operation;
    const f = state.inFlight;
    const known = (id: string) =>
      state.provenance?.pending?.requestId === id ||
      !!state.provenance?.issued.some((i) => i.requestId === id);
    if (f?.kind === "renew" && op?.spkiSha256 && !known(op.requestId)) {
      state = {
        ...markRenewalRequested(state, { requestId: op.requestId, spkiSha256: op.spkiSha256 }, f.at),
        renewRequestedAt: f.at,
      };
      changed = true;
    }
    const pending = state.provenance?.pending;
    const newest = sortVersions(g.obs.versions).find((v) => v.enabled);
    if (pending && newest && !isTrustedVersion(state, newest.version)) {
      const m = await this.vault(ref.vaultName).material(ref.certificateName, newest.version);
      if (m.spkiSha256 === pending.spkiSha256) {
        state = markIssuedByRollover(state, newest.version, pending.requestId, this.deps.now());
        changed = true;
      }
    }
    if (!changed) return;
    g.obs.state = state;
    if (!this.deps.dryRun) await this.saveState(ref, state, "pending", signal);
  }

  private checkLease(signal: AbortSignal | undefined): void {
    if (signal?.aborted)
      throw new LeaseLostError("the binding's lease was lost; stopping before the next write");
  }

  private async boundary(b: Boundary): Promise<void> {
    await this.deps.onBoundary?.(b);
  }

  private async saveState(
    ref: BindingRef,
    state: StateRecord,
    phase: Phase,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    this.checkLease(signal);
    await this.deps.state.put(ref.vaultName, ref.certificateName, state, phase);
  }

  /** Carries out one step; returns the state record to save. */
  private async act(
    ref: BindingRef,
    g: Gathered,
    step: BindingStep,
    phase: Phase,
    signal: AbortSignal | undefined,
  ): Promise<StateRecord> {
    const vault = this.vault(ref.vaultName);
    const target = g.obs.target!;
    const tenantId = g.binding.tenantId ?? this.deps.rollover.tenantId;
    const ok = (s: StateRecord): StateRecord => {
      const { lastError: _e, nextAttemptAt: _n, inFlight: _f, failedStep: _s, ...rest } = s;
      return { ...rest, attempts: 0 };
    };
    switch (step.kind) {
      case "renew": {
        this.checkLease(signal);
        await this.boundary("before-renew");
        // Permission: certificates/create (see VaultEdge.beginRenew).
        const op = await vault.beginRenew(ref.certificateName, g.tags);
        await this.boundary("after-renew-request");
        // At most one renewal per buffer window, counted from the moment Key Vault took the ask.
        let state: StateRecord = {
          ...g.obs.state,
          renewRequestedFor: step.version,
          renewRequestedAt: this.deps.now(),
        };
        // Record the operation at once: its CSR's public key is how the new version is known as
        // Rollover's (a run that dies before this line is recovered from Key Vault's operation).
        if (op.spkiSha256) {
          state = markRenewalRequested(
            state,
            { requestId: op.requestId, spkiSha256: op.spkiSha256 },
            this.deps.now(),
          );
        }
        await this.saveState(ref, state, phase, signal);
        const version = await op.wait(this.deps.renewWaitMs);
        await this.boundary("after-renew");
        if (version && op.spkiSha256) {
          const m = await vault.material(ref.certificateName, version);
          if (m.spkiSha256 === op.spkiSha256)
            state = markIssuedByRollover(state, version, op.requestId, this.deps.now());
        }
        this.emit(ref, g.binding, target, {
          action: "renew",
          outcome: "succeeded",
          reason: step.reason,
          message: version
            ? `Key Vault issued version ${version} (operation ${op.requestId})`
            : `Key Vault is issuing a new version (operation ${op.requestId})`,
          certificateVersion: version ?? step.version,
        });
        return ok(state);
      }
      case "attach": {
        const m = await vault.material(ref.certificateName, step.version);
        this.checkLease(signal);
        await this.boundary("before-attach");
        let keyId: string;
        if (step.mode === "self") {
          const { client, proof } = await this.asTarget(vault, ref, tenantId, target, step.signWith!);
          this.checkLease(signal); // right before the Graph write
          keyId = await this.deps.graph.addKey(
            client,
            g.binding.targetType,
            target.id,
            m.cer,
            proof,
            displayName(ref, m),
          );
        } else {
          const newKeyId = randomUUID();
          keyId = newKeyId;
          const b64 = Buffer.from(m.cer).toString("base64");
          // Matched by the certificate itself (the read carries each key), never by customKeyIdentifier.
          const isNew = (k: { key?: string | null }) => thumbprintOfKey(k.key) === m.thumbprintHex;
          this.checkLease(signal); // right before the Graph write
          await this.deps.graph.updateKeyCredentials(
            this.rolloverGraph(tenantId),
            g.binding.targetType,
            target.id,
            (cur) =>
              cur.some(isNew)
                ? cur
                : [
                    ...cur,
                    {
                      keyId: newKeyId,
                      type: "AsymmetricX509Cert",
                      usage: "Verify",
                      key: b64,
                      displayName: displayName(ref, m),
                    },
                  ],
          );
        }
        await this.boundary("after-attach");
        this.emit(ref, g.binding, target, {
          action: "attach",
          outcome: "succeeded",
          reason: step.reason,
          message: `attached version ${step.version} (${step.mode} mode)`,
          certificateVersion: step.version,
          thumbprint: m.thumbprintHex,
          notBefore: new Date(m.notBefore).toISOString(),
          notAfter: new Date(m.expires).toISOString(),
        });
        // On record: the sweep treats only keys Rollover attached (or its bindings back) as its own.
        return ok(
          withAttached(
            this.remember(g, {
              kind: "attach",
              keyId,
              thumbprint: m.thumbprintHex,
              start: m.notBefore,
              end: m.expires,
              at: this.deps.now(),
            }),
            m.thumbprintHex,
          ),
        );
      }
      case "verify": {
        const m = await vault.material(ref.certificateName, step.version);
        await this.boundary("before-verify");
        const cred = certificateCredential({
          authorityHost: this.deps.authorityHost,
          tenantId,
          clientId: target.appId,
          certificate: m,
          sign: vault.signer(m.kid),
          now: this.deps.now,
        });
        // Verify retries for minutes while Entra replicates: a lost lease stops it at once.
        const r = await verifyCredential(
          cred,
          graphScope(this.deps.graph.graphBaseUrl),
          this.deps.verifyTimeoutMs,
          undefined,
          signal,
        );
        this.checkLease(signal);
        if (!r.ok) throw new Error(`no token with version ${step.version}: ${r.message}`);
        await this.boundary("after-verify");
        this.emit(ref, g.binding, target, {
          action: "verify",
          outcome: "succeeded",
          reason: step.reason,
          message: `acquired a token with version ${step.version} after ${r.attempts} attempt(s)`,
          certificateVersion: step.version,
          thumbprint: m.thumbprintHex,
        });
        return ok({ ...g.obs.state, verifiedVersion: step.version, verifiedAt: this.deps.now() });
      }
      case "retire": {
        this.checkLease(signal);
        await this.boundary("before-retire");
        if (step.mode === "self") {
          const { client, proof } = await this.asTarget(vault, ref, tenantId, target, step.signWith!);
          // 404: the key is already gone (an earlier run removed it and a read did not show that
          // yet): the retirement is done, not failed.
          this.checkLease(signal); // right before the Graph write
          await this.deps.graph
            .removeKey(client, g.binding.targetType, target.id, step.keyId, proof)
            .catch((e: unknown) => {
              if (!isGraphNotFound(e)) throw e;
            });
        } else {
          this.checkLease(signal); // right before the Graph write
          await this.deps.graph.updateKeyCredentials(
            this.rolloverGraph(tenantId),
            g.binding.targetType,
            target.id,
            (cur) => cur.filter((k) => k.keyId.toLowerCase() !== step.keyId),
          );
        }
        await this.boundary("after-retire");
        this.emit(ref, g.binding, target, {
          action: "retire",
          outcome: "succeeded",
          reason: step.reason,
          message: `removed previous key ${step.keyId} (${step.mode} mode)`,
          keyId: step.keyId,
          thumbprint: step.thumbprint,
        });
        return ok(this.remember(g, { kind: "retire", keyId: step.keyId, at: this.deps.now() }));
      }
      default:
        return g.obs.state;
    }
  }

  /**
   * The state with a write Graph accepted added to the writes Rollover trusts over a stale read,
   * and the writes a read already shows (or that are too old to trust) dropped.
   */
  private remember(g: Gathered, write: OwnWrite): StateRecord {
    return { ...g.obs.state, writes: [...this.unconfirmed(g), write] };
  }

  private unconfirmed(g: Gathered): OwnWrite[] {
    return withOwnWrites(
      g.obs.target,
      g.obs.state.writes,
      this.deps.now(),
      this.deps.policy.ownWriteTrustMs ?? OWN_WRITE_TRUST_MS,
    ).unconfirmed;
  }

  /** The state to save when nothing was changed: remembered writes pruned as in `remember`. */
  private settled(g: Gathered): StateRecord {
    const { writes: _w, ...rest } = g.obs.state;
    const writes = this.unconfirmed(g);
    return writes.length ? { ...rest, writes } : rest;
  }

  /**
   * Self mode: a Graph client signed in as the target and a proof-of-possession, both made with
   * the key of `signWith` (a version whose certificate is on the target) by Key Vault's sign.
   */
  private asTarget(
    vault: VaultEdge,
    ref: BindingRef,
    tenantId: string,
    target: Target,
    signWith: string,
  ): Promise<{ client: Client; proof: string }> {
    return asTarget(this.deps, vault, ref.certificateName, tenantId, target, signWith);
  }

  private targetGraph(tenantId: string, clientId: string, signer: VersionMaterial, vault: VaultEdge): Client {
    return targetGraph(this.deps, tenantId, clientId, signer, vault);
  }

  private baseEvent(
    binding: Binding,
    target: Target | undefined,
    current?: { version: string; thumbprint: string; notBefore: number; expires: number },
  ) {
    return {
      tenantId: binding.tenantId ?? this.deps.rollover.tenantId,
      targetType: binding.targetType,
      targetObjectId: binding.targetId,
      ...(target ? { targetAppId: target.appId, targetDisplayName: target.displayName } : {}),
      vaultName: binding.vaultName,
      certificateName: binding.certificateName,
      ...(current
        ? {
            certificateVersion: current.version,
            thumbprint: current.thumbprint,
            notBefore: new Date(current.notBefore).toISOString(),
            notAfter: new Date(current.expires).toISOString(),
          }
        : {}),
    };
  }

  private emit(
    ref: BindingRef,
    binding: Binding | undefined,
    target: Target | undefined,
    e: Omit<AuditEvent, "vaultName" | "certificateName"> & Partial<AuditEvent>,
  ): void {
    const base = binding
      ? this.baseEvent(binding, target)
      : { vaultName: ref.vaultName, certificateName: ref.certificateName };
    this.deps.audit.emit({ ...base, ...e } as AuditEvent);
  }
}

/**
 * What a 403 on a self-mode change of an agent identity blueprint means: its own principal lacks
 * AgentIdentityBlueprint.AddRemoveCreds.All (agentidentityblueprint-addkey.md lists no
 * permission-free self-roll; docs/permissions.md).
 */
function permissionHint(e: unknown, binding: Binding, step: BindingStep): string {
  const status = (e as { statusCode?: number }).statusCode;
  if (status !== 403 || binding.targetType !== "agentIdentityBlueprint") return "";
  if (step.kind !== "attach" && step.kind !== "retire") return "";
  return "; grant the blueprint's principal AgentIdentityBlueprint.AddRemoveCreds.All so it can roll its own key";
}

type SelfModeDeps = Pick<EngineDeps, "graph" | "authorityHost" | "now">;

/**
 * Self mode: a Graph client signed in as the target and a proof-of-possession, both made with
 * the key of `signWith` (a version whose certificate is on the target) by Key Vault's sign.
 * The engine (attach, retire) and the sweep (removeKey) both act as the target through this.
 */
export async function asTarget(
  deps: SelfModeDeps,
  vault: VaultEdge,
  certificateName: string,
  tenantId: string,
  target: Pick<Target, "id" | "appId">,
  signWith: string,
): Promise<{ client: Client; proof: string }> {
  const signer = await vault.material(certificateName, signWith);
  const proof = await proofOfPossession({
    objectId: target.id,
    certificate: signer,
    sign: vault.signer(signer.kid),
    now: deps.now(),
  });
  return { client: targetGraph(deps, tenantId, target.appId, signer, vault), proof };
}

function targetGraph(
  deps: SelfModeDeps,
  tenantId: string,
  clientId: string,
  signer: VersionMaterial,
  vault: VaultEdge,
): Client {
  return deps.graph.client(
    certificateCredential({
      authorityHost: deps.authorityHost,
      tenantId,
      clientId,
      certificate: signer,
      sign: vault.signer(signer.kid),
      now: deps.now,
    }),
  );
}

function displayName(ref: BindingRef, m: VersionMaterial): string {
  return `rollover:${ref.vaultName}/${ref.certificateName}/${m.version}`.slice(0, 90);
}

function describe(step: BindingStep): string {
  switch (step.kind) {
    case "renew":
      return `renew version ${step.version}`;
    case "attach":
      return `attach version ${step.version} (${step.mode} mode)`;
    case "verify":
      return `verify version ${step.version}`;
    case "retire":
      return `retire key ${step.keyId} (${step.mode} mode)`;
    default:
      return step.kind;
  }
}

/**
 * A one-line, secret-free summary of an error: HTTP status, service code, and the service's own
 * message (on one line, at most 300 characters, through the redaction guard), so a 403 says
 * which permission was missing.
 */
export function errorSummary(e: unknown): string {
  const err = e as { statusCode?: number; code?: string; message?: string; name?: string };
  const parts: string[] = [];
  if (err.statusCode) parts.push(`HTTP ${err.statusCode}`);
  if (err.code && typeof err.code === "string") parts.push(err.code);
  // All lines, joined: Key Vault names the missing action on a later line of its 403.
  const first = String(err.message ?? (parts.length ? "" : String(e)))
    .replace(/\s*[\r\n]+\s*/g, " ")
    .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, "[jwt]")
    .trim();
  const message = redact(first, { counter: redactionCounter }).slice(0, 300);
  const head = parts.join(" ");
  if (!message || message === err.code) return head || "error";
  return head ? `${head}: ${message}` : message;
}
