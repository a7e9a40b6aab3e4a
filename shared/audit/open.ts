/**
 * Wires the audit trail from settings: the Logs Ingestion transport (endpoint, rule, stream),
 * and the chain store and spool in the Functions host's storage account.
 */
import type { TokenCredential } from "@azure/identity";
import { KeyVaultCheckpointKey } from "../azure/audit-signing.js";
import { type AuditStorageTarget, openAuditStorage } from "../azure/audit-spool.js";
import { LogsIngestionTransport, type LogsIngestionTransportOptions } from "../azure/logs-ingestion.js";
import type { Config } from "../config.js";
import type { Trigger } from "./events.js";
import type { AuditSpool, ChainStore } from "./ports.js";
import { AuditWriter, type AuditWriterOptions, flushSpool, type SpoolFlushResult } from "./writer.js";

export type AuditSettings = Pick<
  Config,
  "logsIngestionEndpoint" | "dcrImmutableId" | "dcrStreamName" | "storage" | "storageAccountName"
> &
  Partial<Pick<Config, "storageEndpointSuffix" | "auditSigningKeyId">>;

export interface AuditTrail {
  transport: LogsIngestionTransport;
  chains: ChainStore;
  spool: AuditSpool;
  /** Signs and checks chain checkpoints (when ROLLOVER_AUDIT_SIGNING_KEY_ID is set). */
  checkpointKey?: KeyVaultCheckpointKey;
  /** A writer for one run (one function invocation, one CLI command). */
  writer(run: {
    runId: string;
    trigger: Trigger;
    actor: string;
    dryRun?: boolean;
    writer?: string;
    log?: (line: string) => void;
  }): AuditWriter;
  /** Sends what waits in the spool (the flushAudit timer). */
  flushSpool(options?: { limit?: number; log?: (line: string) => void }): Promise<SpoolFlushResult>;
}

export class AuditSettingsError extends Error {
  override name = "AuditSettingsError";
}

export function openAuditTrail(
  settings: AuditSettings,
  credential: TokenCredential,
  options: {
    transport?: Partial<Omit<LogsIngestionTransportOptions, "credential">>;
    /** Credential for storage when there is no connection string (default: `credential`). */
    storageCredential?: TokenCredential;
    writer?: Partial<Pick<AuditWriterOptions, "maxMessageLength" | "redaction" | "clock">>;
  } = {},
): AuditTrail {
  const missing = [
    !settings.logsIngestionEndpoint && "ROLLOVER_LOGS_INGESTION_ENDPOINT",
    !settings.dcrImmutableId && "ROLLOVER_DCR_IMMUTABLE_ID",
    !settings.storage && !settings.storageAccountName && "AzureWebJobsStorage",
  ].filter(Boolean);
  if (missing.length) throw new AuditSettingsError(`the audit trail needs ${missing.join(", ")}`);
  const target: AuditStorageTarget = settings.storage
    ? { connectionString: settings.storage }
    : {
        accountName: settings.storageAccountName!,
        endpointSuffix: settings.storageEndpointSuffix,
        credential: options.storageCredential ?? credential,
      };
  const { chains, spool } = openAuditStorage(target);
  const transport = new LogsIngestionTransport({
    endpoint: settings.logsIngestionEndpoint!,
    ruleId: settings.dcrImmutableId!,
    streamName: settings.dcrStreamName,
    ...options.transport,
    credential,
  });
  const checkpointKey = settings.auditSigningKeyId
    ? new KeyVaultCheckpointKey(settings.auditSigningKeyId, credential)
    : undefined;
  return {
    transport,
    chains,
    spool,
    ...(checkpointKey ? { checkpointKey } : {}),
    writer: (run) =>
      new AuditWriter({
        ...options.writer,
        ...run,
        transport,
        chains,
        spool,
        ...(checkpointKey ? { signer: checkpointKey } : {}),
      }),
    flushSpool: (o = {}) => flushSpool({ spool, transport, ...o }),
  };
}
