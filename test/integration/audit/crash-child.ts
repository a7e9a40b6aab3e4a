/**
 * A separate process for the crash test: sends the spooled audit records and, with
 * ROLLOVER_TEST_CRASH_AT=after-upload, is killed between the upload and the storage delete.
 */
import { ManagedIdentityCredential } from "@azure/identity";
import { openAuditTrail } from "../../../shared/audit/index.js";

const env = process.env;
const trail = openAuditTrail(
  {
    logsIngestionEndpoint: env.ROLLOVER_LOGS_INGESTION_ENDPOINT,
    dcrImmutableId: env.ROLLOVER_DCR_IMMUTABLE_ID,
    dcrStreamName: env.ROLLOVER_DCR_STREAM_NAME ?? "Custom-RolloverAudit_CL",
    storage: env.AzureWebJobsStorage,
    storageAccountName: undefined,
  },
  new ManagedIdentityCredential({ clientId: env.AZURE_CLIENT_ID! }),
);
const { flushSpool } = await import("../../../shared/audit/writer.js");
const result = await flushSpool({ spool: trail.spool, transport: trail.transport, batchSize: 10 });
process.stdout.write(`${JSON.stringify(result)}\n`);
