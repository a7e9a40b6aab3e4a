/**
 * What every room of a rotation shares: the engine's dependencies, the vault and Graph clients of
 * a binding, and the acts each step does the same way (lease check, step boundary, state save,
 * audit record of one binding).
 */
import type { AuditEvent } from "../audit/events.js";
import type { Binding, Phase, StateRecord, Target } from "../core/model.js";
import type { VaultEdge } from "../azure/keyvault.js";
import { TargetClients } from "../azure/target-clients.js";
import type { BindingRef, Boundary, EngineDeps } from "./engine.js";

export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

export class RotationContext {
  readonly clients: TargetClients;

  constructor(readonly deps: EngineDeps) {
    this.clients = new TargetClients(deps);
  }

  vault(name: string): VaultEdge {
    const v = this.deps.vaults.get(name);
    if (!v) throw new Error(`vault ${name} is not configured (ROLLOVER_VAULT_URLS)`);
    return v;
  }

  /** The binding's tenant: its own tag, else Rollover's home tenant. */
  tenantOf(binding: Binding): string {
    return binding.tenantId ?? this.deps.rollover.tenantId;
  }

  checkLease(signal: AbortSignal | undefined): void {
    if (signal?.aborted)
      throw new LeaseLostError("the binding's lease was lost; stopping before the next write");
  }

  async boundary(b: Boundary): Promise<void> {
    await this.deps.onBoundary?.(b);
  }

  async saveState(
    ref: BindingRef,
    state: StateRecord,
    phase: Phase,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    this.checkLease(signal);
    await this.deps.state.put(ref.vaultName, ref.certificateName, state, phase);
  }

  baseEvent(
    binding: Binding,
    target: Target | undefined,
    current?: { version: string; thumbprint: string; notBefore: number; expires: number },
  ) {
    return {
      tenantId: this.tenantOf(binding),
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

  emit(
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
