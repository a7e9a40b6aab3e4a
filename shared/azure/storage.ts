/**
 * Azure Storage: the per-binding state record (Table storage) and the per-binding lease (a blob
 * lease), through @azure/data-tables and @azure/storage-blob. Azurite in tests.
 *
 * The state record is a journal and a cache, never the truth. The lease makes sure a timer run
 * and an Event Grid delivery never work on the same binding at once; a lease lost mid-run (it
 * could not be renewed) aborts the run's signal, and the engine checks it before every write.
 */
import type { TokenCredential } from "@azure/identity";
import { RestError, TableClient } from "@azure/data-tables";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { allowsInsecureConnection, SETTINGS } from "../config.js";
import type { OwnWrite, StateRecord } from "../core/model.js";

export interface StorageSettings {
  /** A connection string (AzureWebJobsStorage), or… */
  connectionString?: string | undefined;
  /** …an account name with Rollover's credential (AzureWebJobsStorage__accountName). */
  accountName?: string | undefined;
  /** DNS suffix of the account's endpoints (ROLLOVER_STORAGE_ENDPOINT_SUFFIX; national clouds). */
  endpointSuffix?: string | undefined;
  credential?: TokenCredential | undefined;
}

export const NO_STORAGE =
  "no storage configured: set AzureWebJobsStorage (or AzureWebJobsStorage__accountName)";

/** `https://{account}.{service}.{suffix}` for an account reached by name. */
export function storageEndpoint(s: StorageSettings, service: "blob" | "queue" | "table"): string {
  return `https://${s.accountName}.${service}.${s.endpointSuffix ?? SETTINGS.storageEndpointSuffix.default}`;
}

export const STATE_TABLE = "RolloverState";
export const LEASE_CONTAINER = "rollover-leases";

/**
 * A Table client. Plain http is allowed only when every http endpoint of the connection string
 * is on this machine (Azurite); loadConfig refuses http to any other host.
 */
export function tableClient(s: StorageSettings, table: string): TableClient {
  if (s.connectionString)
    return TableClient.fromConnectionString(s.connectionString, table, {
      ...(allowsInsecureConnection(s.connectionString) ? { allowInsecureConnection: true } : {}),
    });
  if (s.accountName && s.credential) return new TableClient(storageEndpoint(s, "table"), table, s.credential);
  throw new Error(NO_STORAGE);
}

export function blobService(s: StorageSettings): BlobServiceClient {
  if (s.connectionString) return BlobServiceClient.fromConnectionString(s.connectionString);
  if (s.accountName && s.credential) return new BlobServiceClient(storageEndpoint(s, "blob"), s.credential);
  throw new Error(NO_STORAGE);
}

const created = new WeakMap<object, Promise<void>>();

/**
 * Creates a storage resource once per client (a table, a queue, a container): the first call
 * runs `create`, later calls share its promise; a failed try is forgotten, so the next call
 * tries again (a transient failure must not stick until the process restarts).
 */
export function createOnce(client: object, create: () => Promise<unknown>): Promise<void> {
  let ready = created.get(client);
  if (!ready) {
    ready = create().then(
      () => undefined,
      (e: unknown) => {
        created.delete(client);
        throw e;
      },
    );
    created.set(client, ready);
  }
  return ready;
}

/**
 * Creates the client's table, once per client (an existing table is fine: 409); a failed try is
 * tried again on the next call. Every Table adapter calls it before its first read or write.
 */
export function ensureTable(table: TableClient): Promise<void> {
  return createOnce(table, () =>
    table.createTable().catch((e: unknown) => {
      if ((e as RestError).statusCode !== 409) throw e;
    }),
  );
}

/**
 * A PartitionKey or RowKey part: Table keys may not contain / \ # ? or control characters
 * (learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model), so
 * each is replaced by `_`. Key Vault names and the audit writer's names (defaultWriterId) hold
 * none of them, so their keys are the names themselves.
 */
export function tableKey(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += "/\\#?".includes(ch) || c < 0x20 || (c >= 0x7f && c <= 0x9f) ? "_" : ch;
  }
  return out;
}

interface StateEntity {
  partitionKey: string;
  rowKey: string;
  verifiedVersion?: string;
  verifiedAt?: number;
  renewRequestedFor?: string;
  attempts?: number;
  nextAttemptAt?: number;
  lastError?: string;
  phase?: string;
  inFlightKind?: string;
  inFlightVersion?: string;
  inFlightKeyId?: string;
  inFlightThumbprint?: string;
  inFlightAt?: number;
  /** StateRecord.writes, as JSON. */
  writes?: string;
  /** Thumbprints Rollover attached for this binding, as JSON. */
  attached?: string;
  failedStep?: string;
  renewRequestedAt?: number;
  /** JSON of the record's Provenance (issued and adopted versions, the pending operation). */
  provenance?: string;
}

/** Key Vault names are case-insensitive: one binding, one key, however it is spelled. */
function foldedKey(s: string): string {
  return tableKey(s.toLowerCase());
}

function parseProvenance(raw: string | undefined): StateRecord["provenance"] {
  if (!raw) return undefined;
  try {
    const p = JSON.parse(raw) as NonNullable<StateRecord["provenance"]>;
    if (!Array.isArray(p.issued) || !Array.isArray(p.adopted)) return { issued: [], adopted: [] };
    return p;
  } catch {
    // An unreadable record trusts nothing: a person adopts what should be attached.
    return { issued: [], adopted: [] };
  }
}

/** Reads the remembered writes back; an unreadable value is dropped (the read is then the truth). */
function parseWrites(raw: string): OwnWrite[] {
  try {
    const v = JSON.parse(raw) as unknown;
    if (!Array.isArray(v)) return [];
    return v.filter(
      (w): w is OwnWrite =>
        typeof w === "object" &&
        w !== null &&
        (w.kind === "attach" || w.kind === "retire") &&
        typeof w.keyId === "string" &&
        typeof w.at === "number" &&
        (w.kind === "retire" ||
          (typeof w.thumbprint === "string" && typeof w.start === "number" && typeof w.end === "number")),
    );
  } catch {
    return [];
  }
}

/** Attached thumbprints from the state entity; anything that is not a list of hex strings is dropped. */
function parseThumbprints(raw: string): string[] {
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v)
      ? v.filter((x): x is string => typeof x === "string" && /^[0-9A-F]{40}$/.test(x))
      : [];
  } catch {
    return [];
  }
}

export class StateStore {
  constructor(private readonly table: TableClient) {}

  async get(vaultName: string, certificateName: string): Promise<StateRecord | undefined> {
    await ensureTable(this.table);
    return this.peek(vaultName, certificateName);
  }

  /** Reads the record without creating the table first (`rollover status` only reads). */
  async peek(vaultName: string, certificateName: string): Promise<StateRecord | undefined> {
    const e =
      (await this.read(foldedKey(vaultName), foldedKey(certificateName))) ??
      // A record written before keys were folded (the next put moves it to the folded key).
      (vaultName.toLowerCase() !== vaultName || certificateName.toLowerCase() !== certificateName
        ? await this.read(tableKey(vaultName), tableKey(certificateName))
        : undefined);
    if (!e) return undefined;
    const provenance = parseProvenance(e.provenance);
    return {
      attempts: e.attempts ?? 0,
      ...(e.failedStep ? { failedStep: e.failedStep as NonNullable<StateRecord["failedStep"]> } : {}),
      ...(typeof e.renewRequestedAt === "number" ? { renewRequestedAt: e.renewRequestedAt } : {}),
      ...(provenance ? { provenance } : {}),
      ...(e.verifiedVersion ? { verifiedVersion: e.verifiedVersion } : {}),
      ...(typeof e.verifiedAt === "number" ? { verifiedAt: e.verifiedAt } : {}),
      ...(e.renewRequestedFor ? { renewRequestedFor: e.renewRequestedFor } : {}),
      ...(typeof e.nextAttemptAt === "number" ? { nextAttemptAt: e.nextAttemptAt } : {}),
      ...(e.lastError ? { lastError: e.lastError } : {}),
      ...(e.attached ? { attached: parseThumbprints(e.attached) } : {}),
      ...(e.inFlightKind && typeof e.inFlightAt === "number"
        ? {
            inFlight: {
              kind: e.inFlightKind as "renew" | "attach" | "retire",
              at: e.inFlightAt,
              ...(e.inFlightVersion ? { version: e.inFlightVersion } : {}),
              ...(e.inFlightKeyId ? { keyId: e.inFlightKeyId } : {}),
              ...(e.inFlightThumbprint ? { thumbprint: e.inFlightThumbprint } : {}),
            },
          }
        : {}),
      ...(e.writes ? { writes: parseWrites(e.writes) } : {}),
    };
  }

  private async read(pk: string, rk: string): Promise<StateEntity | undefined> {
    try {
      return await this.table.getEntity<StateEntity>(pk, rk);
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return undefined;
      throw e;
    }
  }

  async put(vaultName: string, certificateName: string, state: StateRecord, phase: string): Promise<void> {
    await ensureTable(this.table);
    const entity: StateEntity = {
      partitionKey: foldedKey(vaultName),
      rowKey: foldedKey(certificateName),
      attempts: state.attempts,
      phase,
      ...(state.failedStep ? { failedStep: state.failedStep } : {}),
      ...(state.renewRequestedAt !== undefined ? { renewRequestedAt: state.renewRequestedAt } : {}),
      ...(state.provenance ? { provenance: JSON.stringify(state.provenance) } : {}),
      ...(state.verifiedVersion ? { verifiedVersion: state.verifiedVersion } : {}),
      ...(state.verifiedAt !== undefined ? { verifiedAt: state.verifiedAt } : {}),
      ...(state.renewRequestedFor ? { renewRequestedFor: state.renewRequestedFor } : {}),
      ...(state.nextAttemptAt !== undefined ? { nextAttemptAt: state.nextAttemptAt } : {}),
      ...(state.lastError ? { lastError: state.lastError } : {}),
      ...(state.attached?.length ? { attached: JSON.stringify(state.attached) } : {}),
      ...(state.inFlight
        ? {
            inFlightKind: state.inFlight.kind,
            inFlightAt: state.inFlight.at,
            ...(state.inFlight.version ? { inFlightVersion: state.inFlight.version } : {}),
            ...(state.inFlight.keyId ? { inFlightKeyId: state.inFlight.keyId } : {}),
            ...(state.inFlight.thumbprint ? { inFlightThumbprint: state.inFlight.thumbprint } : {}),
          }
        : {}),
      ...(state.writes?.length ? { writes: JSON.stringify(state.writes) } : {}),
    };
    await this.table.upsertEntity(entity, "Replace");
  }

  async delete(vaultName: string, certificateName: string): Promise<void> {
    await ensureTable(this.table);
    try {
      await this.table.deleteEntity(foldedKey(vaultName), foldedKey(certificateName));
    } catch (e) {
      if (!(e instanceof RestError && e.statusCode === 404)) throw e;
    }
  }
}

export interface HeldLease {
  /** Aborted when the lease could not be renewed: stop before the next write. */
  signal: AbortSignal;
  release(): Promise<void>;
}

/** Blob leases, one blob per binding. A lease lasts 30 s and is renewed every 10 s while held. */
export class LeaseManager {
  constructor(
    private readonly container: ContainerClient,
    private readonly durationSeconds = 30,
  ) {}

  static fromSettings(s: StorageSettings): LeaseManager {
    return new LeaseManager(blobService(s).getContainerClient(LEASE_CONTAINER));
  }

  /** Takes the lease for `key`, or returns undefined when someone else holds it. */
  async acquire(key: string): Promise<HeldLease | undefined> {
    // Once per process; a failed creation is tried again on the next acquire.
    await createOnce(this.container, () => this.container.createIfNotExists());
    const blob = this.container.getBlockBlobClient(`${foldedKey(key)}.lock`);
    try {
      await blob.upload("", 0, { conditions: { ifNoneMatch: "*" } });
    } catch (e) {
      // 409 (exists) or 412 (exists, leased): fine, the blob is there.
      const status = (e as RestError).statusCode;
      if (status !== 409 && status !== 412) throw e;
    }
    const lease = blob.getBlobLeaseClient();
    try {
      await lease.acquireLease(this.durationSeconds);
    } catch (e) {
      if ((e as RestError).statusCode === 409) return undefined;
      throw e;
    }
    const controller = new AbortController();
    const timer = setInterval(
      () => {
        lease.renewLease().catch(() => {
          clearInterval(timer);
          controller.abort(new Error(`lease on ${key} lost`));
        });
      },
      Math.max(1000, (this.durationSeconds * 1000) / 3),
    );
    timer.unref();
    return {
      signal: controller.signal,
      release: async () => {
        clearInterval(timer);
        await lease.releaseLease().catch(() => undefined);
      },
    };
  }
}
