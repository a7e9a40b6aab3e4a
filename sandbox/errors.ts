/**
 * One error factory per service, emitting that service's real envelope, so that SDK clients
 * parse sandbox errors exactly as they parse Azure's.
 */
import type { ServiceName, SandboxResponse } from "./http.js";

export function serviceError(
  service: ServiceName,
  status: number,
  code: string,
  message: string,
  requestId: string,
  extraHeaders: Record<string, string> = {},
): SandboxResponse {
  switch (service) {
    case "graph":
      // Graph: {error:{code,message,innerError:{date,request-id,client-request-id}}} (graph-entra.md §2.10)
      return {
        status,
        headers: { "request-id": requestId, "client-request-id": requestId, ...extraHeaders },
        body: {
          error: {
            code,
            message,
            innerError: {
              date: new Date().toISOString().replace(/\.\d{3}Z$/, ""),
              "request-id": requestId,
              "client-request-id": requestId,
            },
          },
        },
      };
    case "entra":
    case "msi":
      // Entra token endpoint: OAuth error JSON with AADSTS text (graph-entra.md §4.3)
      return {
        status,
        headers: { "x-ms-request-id": requestId, ...extraHeaders },
        body: {
          error: code,
          error_description: message,
          error_codes: aadstsCodes(message),
          timestamp: new Date()
            .toISOString()
            .replace("T", " ")
            .replace(/\.\d{3}Z$/, "Z"),
          trace_id: requestId,
          correlation_id: requestId,
        },
      };
    case "keyvault":
      // Key Vault: {error:{code,message}} (kv-monitor-functions.md §2.6)
      return {
        status,
        headers: {
          "x-ms-request-id": requestId,
          "x-ms-keyvault-service-version": "1.9.2.0",
          ...extraHeaders,
        },
        body: { error: { code, message } },
      };
    case "logs":
      // Logs Ingestion: {error:{code,message}} (kv-monitor-functions.md §4)
      return {
        status,
        headers: { "x-ms-request-id": requestId, ...extraHeaders },
        body: { error: { code, message } },
      };
    default:
      return {
        status,
        headers: { "x-ms-request-id": requestId, ...extraHeaders },
        body: { error: { code, message } },
      };
  }
}

function aadstsCodes(message: string): number[] {
  const m = /AADSTS(\d+)/.exec(message);
  return m ? [Number(m[1])] : [];
}
