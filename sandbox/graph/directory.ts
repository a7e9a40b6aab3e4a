/**
 * The sandbox directory: tenants holding applications, agent identity blueprints and service
 * principals (including agent identities and managed identities) in plain maps. Graph reads and
 * writes it; Entra checks client credentials against it; seeds fill it.
 *
 * Hot paths (createApplication, addKeyCredential) do no crypto beyond a SHA-1 of each distinct
 * DER and a cached certificate parse, and credentials share their date strings, so `scale:1000000`
 * (a million applications and their service principals) seeded in 32 s into 1.5 GiB of heap, measured.
 * A per-tenant change sequence feeds `/delta`.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { VirtualClock } from "../clock.js";
import type {
  DirectoryObjectKind,
  DirectoryObjectSnapshot,
  DirectoryStore,
  NewApplication,
  StoredKeyCredential,
  StoredPasswordCredential,
} from "../types.js";
import { type CertInfo, certInfo, sha1Hex } from "./certs.js";

export interface DirObject {
  tenantId: string;
  id: string;
  appId: string;
  kind: DirectoryObjectKind;
  displayName: string;
  keyCredentials: StoredKeyCredential[];
  passwordCredentials: StoredPasswordCredential[];
  owners: string[];
  appRoles: string[];
  blueprintAppId?: string;
  createdDateTime: string;
  /** Change sequence (per tenant) of the last write; `/delta` returns objects above a token's mark. */
  seq: number;
  /** Sequence of the last change to every property (creation, deletion). */
  allSeq?: number;
  /** Sequence of the last change of single properties (`/delta` returns only what changed). */
  propSeq?: Record<string, number>;
  deleted: boolean;
  /** What readers may still see while writes replicate (only kept while a `stale` fault is on). */
  lag?: {
    base: ReplicaView;
    writes: Array<{ at: number; view: ReplicaView }>;
    /** `seq` after the last remembered write: a later change was not lagged (see staleView). */
    seq: number;
  };
}

/** The replicated parts of an object: what a lagging read may still show. */
export interface ReplicaView {
  displayName: string;
  keyCredentials: StoredKeyCredential[];
  passwordCredentials: StoredPasswordCredential[];
  deleted: boolean;
}

export function replicaView(o: DirObject): ReplicaView {
  return {
    displayName: o.displayName,
    keyCredentials: [...o.keyCredentials],
    passwordCredentials: [...o.passwordCredentials],
    deleted: o.deleted,
  };
}

/**
 * The object as a read `staleMs` behind may see it: the state after the last write made at or
 * before `now - staleMs` (or before the first remembered write). Directory writes made outside
 * Graph (seeds, tests' setup) are not lagged.
 */
export function staleView(o: DirObject, staleMs: number, now: number): DirObject {
  // Changed since without a lagged write (seeds, a test's setup, a write while no lag was on):
  // that change is visible at once, and with it everything before.
  if (!o.lag || staleMs <= 0 || o.lag.seq !== o.seq) return o;
  const cutoff = now - staleMs;
  let view = o.lag.base;
  for (const w of o.lag.writes) if (w.at <= cutoff) view = w.view;
  return { ...o, ...view };
}

/**
 * Remembers the state before a Graph write, for lagging reads; returns what to call after the
 * write. Keeps at most the writes within `keepMs` of now.
 */
export function lagWrite(o: DirObject, now: number, keepMs: number): () => void {
  const before = replicaView(o);
  if (o.lag && o.lag.seq !== o.seq) o.lag = undefined;
  if (o.lag) {
    // Forget writes every reader sees by now (their state becomes the base).
    const old = o.lag.writes.filter((w) => w.at <= now - keepMs);
    if (old.length > 0) {
      o.lag.base = (old[old.length - 1] as { view: ReplicaView }).view;
      o.lag.writes = o.lag.writes.filter((w) => w.at > now - keepMs);
    }
  } else o.lag = { base: before, writes: [], seq: o.seq };
  const lag = o.lag;
  return () => {
    lag.writes.push({ at: now, view: replicaView(o) });
    lag.seq = o.seq;
  };
}

export interface Tenant {
  id: string;
  displayName: string;
  objects: Map<string, DirObject>;
  appsByAppId: Map<string, DirObject>;
  spsByAppId: Map<string, DirObject>;
  /** Application-side objects (applications and blueprints), in creation order, for paging. */
  applications: DirObject[];
  /** Service-principal-side objects, in creation order. */
  servicePrincipals: DirObject[];
  seq: number;
}

export class DirectoryError extends Error {
  override name = "DirectoryError";
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export const APPLICATION_KINDS: ReadonlySet<DirectoryObjectKind> = new Set([
  "application",
  "agentIdentityBlueprint",
]);

/**
 * Graph's timestamp form for credentials: whole seconds, `Z`. A string already in that form comes
 * back as the same string, so a seed that gives one date to a million credentials keeps one copy.
 */
export function graphDate(d: Date | number | string): string {
  const date = d instanceof Date ? d : new Date(d);
  const out = date.toISOString().replace(/\.\d{3}Z$/, "Z");
  return out === d ? d : out;
}

/** A certificate's default customKeyIdentifier, per DER buffer: seeds attach one buffer to many objects. */
const defaultKeyIdentifiers = new WeakMap<Uint8Array, string>();

function guid(s: string | undefined): string {
  return (s ?? randomUUID()).toLowerCase();
}

/** A client secret in the shape Entra issues (`xxx8Q~` + 34 characters). */
function newSecretText(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~";
  const bytes = randomBytes(37);
  let s = "";
  for (let i = 0; i < 37; i++) {
    s += alphabet[(bytes[i] as number) % (i < 3 ? 62 : alphabet.length)];
    if (i === 2) s += "8Q~";
  }
  return s;
}

export class Directory implements DirectoryStore {
  readonly defaultTenantId: string;
  private tenants = new Map<string, Tenant>();

  constructor(
    private readonly clock: VirtualClock,
    defaultTenantId: string,
  ) {
    this.defaultTenantId = defaultTenantId.toLowerCase();
    this.addTenant(this.defaultTenantId, "Rollover Sandbox");
  }

  tenantIds(): string[] {
    return [...this.tenants.keys()];
  }

  addTenant(tenantId: string, displayName?: string): void {
    const id = tenantId.toLowerCase();
    if (this.tenants.has(id)) return;
    this.tenants.set(id, {
      id,
      displayName: displayName ?? `Tenant ${id.slice(0, 8)}`,
      objects: new Map(),
      appsByAppId: new Map(),
      spsByAppId: new Map(),
      applications: [],
      servicePrincipals: [],
      seq: 0,
    });
  }

  tenantDisplayName(tenantId: string): string | undefined {
    return this.tenant(tenantId)?.displayName;
  }

  tenant(tenantId: string): Tenant | undefined {
    return this.tenants.get(tenantId.toLowerCase());
  }

  private mustTenant(tenantId: string): Tenant {
    const t = this.tenant(tenantId);
    if (!t) throw new DirectoryError(`tenant ${tenantId} does not exist`, 404, "Request_ResourceNotFound");
    return t;
  }

  /** The live object (not a copy); Graph and Entra read through this. */
  object(tenantId: string, objectId: string): DirObject | undefined {
    const o = this.tenant(tenantId)?.objects.get(objectId.toLowerCase());
    return o && !o.deleted ? o : undefined;
  }

  private mustObject(tenantId: string, objectId: string): DirObject {
    const o = this.object(tenantId, objectId);
    if (!o)
      throw new DirectoryError(
        `Resource '${objectId}' does not exist or one of its queried reference-property objects are not present.`,
        404,
        "Request_ResourceNotFound",
      );
    return o;
  }

  application(tenantId: string, appId: string): DirObject | undefined {
    const o = this.tenant(tenantId)?.appsByAppId.get(appId.toLowerCase());
    return o && !o.deleted ? o : undefined;
  }

  servicePrincipal(tenantId: string, appId: string): DirObject | undefined {
    const o = this.tenant(tenantId)?.spsByAppId.get(appId.toLowerCase());
    return o && !o.deleted ? o : undefined;
  }

  /**
   * Marks an object changed (for `/delta`): `props` names the properties the write changed;
   * without it, everything changed (creation, deletion).
   */
  touch(o: DirObject, props?: readonly string[]): void {
    const t = this.mustTenant(o.tenantId);
    t.seq += 1;
    o.seq = t.seq;
    if (!props) {
      o.allSeq = t.seq;
      return;
    }
    o.propSeq ??= {};
    for (const p of props) o.propSeq[p] = t.seq;
  }

  createApplication(tenantId: string, init: NewApplication): DirectoryObjectSnapshot {
    return snapshot(this.createApplicationObject(tenantId, init));
  }

  createApplicationObject(tenantId: string, init: NewApplication): DirObject {
    const t = this.mustTenant(tenantId);
    const id = guid(init.id);
    const appId = guid(init.appId);
    if (t.objects.has(id)) throw new DirectoryError(`object ${id} already exists`, 400, "Request_BadRequest");
    if (t.appsByAppId.has(appId))
      throw new DirectoryError(
        `an application with appId ${appId} already exists`,
        400,
        "Request_BadRequest",
      );
    const app: DirObject = {
      tenantId: t.id,
      id,
      appId,
      kind: init.kind ?? "application",
      displayName: init.displayName,
      keyCredentials: [],
      passwordCredentials: [],
      owners: [],
      appRoles: [],
      createdDateTime: graphDate(this.clock.now()),
      seq: 0,
      deleted: false,
    };
    t.objects.set(id, app);
    t.appsByAppId.set(appId, app);
    t.applications.push(app);
    this.touch(app);
    if (init.withServicePrincipal !== false) {
      this.createServicePrincipalObject(t.id, {
        appId,
        displayName: init.displayName,
        kind: app.kind === "agentIdentityBlueprint" ? "agentIdentityBlueprintPrincipal" : "servicePrincipal",
      });
    }
    return app;
  }

  createServicePrincipal(
    tenantId: string,
    init: {
      appId: string;
      displayName?: string;
      kind?: "servicePrincipal" | "agentIdentity" | "managedIdentity";
      id?: string;
      blueprintAppId?: string;
    },
  ): DirectoryObjectSnapshot {
    return snapshot(this.createServicePrincipalObject(tenantId, init));
  }

  createServicePrincipalObject(
    tenantId: string,
    init: {
      appId: string;
      displayName?: string;
      kind?: "servicePrincipal" | "agentIdentity" | "managedIdentity" | "agentIdentityBlueprintPrincipal";
      id?: string;
      blueprintAppId?: string;
    },
  ): DirObject {
    const t = this.mustTenant(tenantId);
    const kind = init.kind ?? "servicePrincipal";
    const appId = guid(init.appId);
    // An agent identity's object id and app id are the same value (research graph-entra.md §1.1).
    const id = kind === "agentIdentity" ? guid(init.id ?? appId) : guid(init.id);
    if (t.objects.has(id)) throw new DirectoryError(`object ${id} already exists`, 400, "Request_BadRequest");
    if (t.spsByAppId.has(appId))
      throw new DirectoryError(
        `a service principal for appId ${appId} already exists`,
        409,
        "Request_MultipleObjectsWithSameKeyValue",
      );
    const app = t.appsByAppId.get(appId);
    const sp: DirObject = {
      tenantId: t.id,
      id,
      appId,
      kind,
      displayName: init.displayName ?? app?.displayName ?? appId,
      keyCredentials: [],
      passwordCredentials: [],
      owners: [],
      appRoles: [],
      ...(init.blueprintAppId ? { blueprintAppId: init.blueprintAppId.toLowerCase() } : {}),
      createdDateTime: graphDate(this.clock.now()),
      seq: 0,
      deleted: false,
    };
    t.objects.set(id, sp);
    t.spsByAppId.set(appId, sp);
    t.servicePrincipals.push(sp);
    this.touch(sp);
    return sp;
  }

  addKeyCredential(
    tenantId: string,
    objectId: string,
    cred: {
      certificateDer: Uint8Array;
      displayName?: string;
      startDateTime?: string;
      endDateTime?: string;
      keyId?: string;
      /** Any value the writer chose; defaults to the thumbprint (base64 of the SHA-1 bytes). */
      customKeyIdentifier?: string;
    },
  ): StoredKeyCredential {
    const o = this.mustObject(tenantId, objectId);
    const kc = this.makeKeyCredential(cred);
    o.keyCredentials.push(kc);
    this.touch(o, ["keyCredentials"]);
    return kc;
  }

  /** Builds a stored key credential from a certificate; dates default to its validity. */
  makeKeyCredential(cred: {
    certificateDer: Uint8Array;
    displayName?: string | null;
    startDateTime?: string;
    endDateTime?: string;
    keyId?: string;
    customKeyIdentifier?: string;
  }): StoredKeyCredential {
    // Parse only what the caller did not give: seeds that pass dates skip the X.509 parse.
    const info =
      !cred.startDateTime || !cred.endDateTime || cred.displayName === undefined
        ? certInfo(cred.certificateDer)
        : undefined;
    // Graph: "When not provided in the payload, defaults to the thumbprint of the certificate",
    // returned as Binary (base64 of the SHA-1 bytes) — research graph-entra.md §2.1.
    let thumbprint = defaultKeyIdentifiers.get(cred.certificateDer);
    if (thumbprint === undefined) {
      const hex = info?.sha1Hex ?? sha1Hex(cred.certificateDer);
      thumbprint = Buffer.from(hex, "hex").toString("base64");
      defaultKeyIdentifiers.set(cred.certificateDer, thumbprint);
    }
    return {
      keyId: guid(cred.keyId),
      customKeyIdentifier: cred.customKeyIdentifier ?? thumbprint,
      displayName: cred.displayName !== undefined ? cred.displayName : (info?.subject ?? null),
      type: "AsymmetricX509Cert",
      usage: "Verify",
      startDateTime: graphDate(cred.startDateTime ?? (info as CertInfo).notBefore),
      endDateTime: graphDate(cred.endDateTime ?? (info as CertInfo).notAfter),
      key: cred.certificateDer,
    };
  }

  addPasswordCredential(
    tenantId: string,
    objectId: string,
    cred: { displayName?: string; startDateTime?: string; endDateTime: string; keyId?: string },
  ): StoredPasswordCredential {
    const o = this.mustObject(tenantId, objectId);
    const secretText = newSecretText();
    const pc: StoredPasswordCredential = {
      keyId: guid(cred.keyId),
      displayName: cred.displayName ?? null,
      hint: secretText.slice(0, 3),
      startDateTime: graphDate(cred.startDateTime ?? this.clock.now()),
      endDateTime: graphDate(cred.endDateTime),
      secretText,
    };
    o.passwordCredentials.push(pc);
    this.touch(o, ["passwordCredentials"]);
    return pc;
  }

  addOwner(tenantId: string, objectId: string, ownerObjectId: string): void {
    const o = this.mustObject(tenantId, objectId);
    const owner = ownerObjectId.toLowerCase();
    if (!o.owners.includes(owner)) {
      o.owners.push(owner);
      this.touch(o, []);
    }
  }

  removeOwner(tenantId: string, objectId: string, ownerObjectId: string): boolean {
    const o = this.mustObject(tenantId, objectId);
    const i = o.owners.indexOf(ownerObjectId.toLowerCase());
    if (i < 0) return false;
    o.owners.splice(i, 1);
    this.touch(o, []);
    return true;
  }

  grantAppRole(tenantId: string, servicePrincipalId: string, role: string): void {
    const o = this.mustObject(tenantId, servicePrincipalId);
    if (APPLICATION_KINDS.has(o.kind))
      throw new DirectoryError("app roles are granted to service principals", 400, "Request_BadRequest");
    if (!o.appRoles.includes(role)) o.appRoles.push(role);
  }

  /** Soft-deletes an object (and an application's service principal stays, as in Entra). */
  delete(tenantId: string, objectId: string): void {
    const o = this.mustObject(tenantId, objectId);
    o.deleted = true;
    this.touch(o);
  }

  get(tenantId: string, objectId: string): DirectoryObjectSnapshot | undefined {
    const o = this.object(tenantId, objectId);
    return o ? snapshot(o) : undefined;
  }

  findByAppId(
    tenantId: string,
    appId: string,
    kind?: "application" | "servicePrincipal",
  ): DirectoryObjectSnapshot | undefined {
    const o =
      kind === "servicePrincipal"
        ? this.servicePrincipal(tenantId, appId)
        : kind === "application"
          ? this.application(tenantId, appId)
          : (this.application(tenantId, appId) ?? this.servicePrincipal(tenantId, appId));
    return o ? snapshot(o) : undefined;
  }

  count(tenantId: string): number {
    const t = this.tenant(tenantId);
    if (!t) return 0;
    let n = 0;
    for (const o of t.objects.values()) if (!o.deleted) n++;
    return n;
  }

  /**
   * Empties every tenant but keeps the default tenant's managed identities (Rollover's own
   * identity is part of the sandbox, not of a seed), with their grants and ownerships cleared.
   */
  reset(): void {
    const home = this.mustTenant(this.defaultTenantId);
    const keep = [...home.objects.values()].filter((o) => o.kind === "managedIdentity" && !o.deleted);
    this.tenants.clear();
    this.addTenant(this.defaultTenantId, home.displayName);
    for (const mi of keep) {
      this.createServicePrincipalObject(this.defaultTenantId, {
        appId: mi.appId,
        id: mi.id,
        displayName: mi.displayName,
        kind: "managedIdentity",
      });
    }
  }
}

export function snapshot(o: DirObject): DirectoryObjectSnapshot {
  return {
    tenantId: o.tenantId,
    id: o.id,
    appId: o.appId,
    kind: o.kind,
    displayName: o.displayName,
    keyCredentials: o.keyCredentials.map((k) => ({ ...k })),
    passwordCredentials: o.passwordCredentials.map((p) => ({ ...p })),
    owners: [...o.owners],
    appRoles: [...o.appRoles],
    ...(o.blueprintAppId ? { blueprintAppId: o.blueprintAppId } : {}),
  };
}
