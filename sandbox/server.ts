/**
 * Starts the sandbox: one HTTPS port on 127.0.0.1 serving Entra, Microsoft Graph, Key Vault,
 * the managed identity endpoint, Logs Ingestion and the control API, plus Event Grid delivery
 * to subscribed webhooks and (optionally) Azurite for storage.
 *
 * Paths do not collide: Key Vault lives at the root (`/certificates`, `/keys`, `/secrets`), Graph
 * under `/v1.0` and `/beta`, Entra under `/{tenant}/…`, Logs Ingestion under
 * `/dataCollectionRules`, managed identity under `/msi`, control under `/_sandbox`.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AzuriteHandle, startAzurite } from "./azurite.js";
import { VirtualClock } from "./clock.js";
import { controlRoutes } from "./control/index.js";
import { entraRoutes, createSignInLog, msiRoutes } from "./entra/index.js";
import { createOperator } from "./entra/operator.js";
import { serviceError } from "./errors.js";
import { EventGridService } from "./eventgrid/index.js";
import { FaultInjector, parseFaultSpec } from "./faults.js";
import { batchWrites, isBatchPath } from "./graph/batch.js";
import { createDirectory, graphRoutes } from "./graph/index.js";
import {
  BodyError,
  decodeBody,
  newRequestId,
  parseQuery,
  Router,
  type SandboxRequest,
  type SandboxResponse,
  type ServiceName,
} from "./http.js";
import { createVault, keyVaultRoutes } from "./keyvault/index.js";
import { standaloneKeysOf } from "./keyvault/keys.js";

/** The name of Rollover's audit signing key in the vault (infra creates the same). */
export const AUDIT_SIGNING_KEY = "rollover-audit-signing";
import { createLogsStore, logsRoutes } from "./logs/index.js";
import { type SeedName, seedTenant } from "./seeds.js";
import { ensureTls } from "./tls.js";
import { TokenService } from "./tokens.js";
import type { SandboxContext, SandboxUrls } from "./types.js";

export interface SandboxOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  seed?: SeedName;
  /** Where the CA and other state are kept; default a new temp dir. */
  stateDir?: string;
  /** A fault spec (see faults.ts), applied from the start. */
  faults?: string;
  faultSeed?: number;
  /** Start Azurite too (default true). */
  azurite?: boolean;
  tenantId?: string;
  vaultName?: string;
  /** Called with log lines; default: stderr. */
  log?: (line: string) => void;
}

export interface SandboxHandle {
  urls: SandboxUrls;
  /** Environment variables Rollover needs to run against this sandbox. */
  env: Record<string, string>;
  ctx: SandboxContext;
  eventGrid: EventGridService;
  azurite?: AzuriteHandle;
  /**
   * Requests served per service since start or the last reset (benchmarks count them), and writes
   * per service under `service:write` (e.g. `graph:write`).
   */
  requestCounts: {
    get(): Record<string, number>;
    reset(): void;
  };
  /**
   * The person at the keyboard (an application administrator): variables to lay over `env` for
   * `rollover bind`, `unbind` and `migrate-secret`.
   */
  operatorEnv: Record<string, string>;
  /** The single JSON line `rollover sandbox` prints when ready. */
  readyLine(): string;
  close(): Promise<void>;
}

export const DEFAULT_TENANT_ID = "72f988bf-0000-4000-8000-00000000a11c";
export const DEFAULT_VAULT_NAME = "rollover-sandbox-kv";
export const DCR_IMMUTABLE_ID = "dcr-00000000000000000000000000000001";
export const STREAM_NAME = "Custom-RolloverAudit_CL";

export async function startSandbox(options: SandboxOptions = {}): Promise<SandboxHandle> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[sandbox] ${line}\n`));
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "rollover-sandbox-"));
  const tls = await ensureTls(stateDir);
  const router = new Router();
  const sockets = new Set<Socket>();
  let ctxRef: SandboxContext | undefined;

  const server: Server = createServer({ cert: tls.certPem, key: tls.keyPem, keepAlive: true }, (req, res) => {
    void dispatch(req, res);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const baseUrl = `https://127.0.0.1:${port}`;
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const vaultName = options.vaultName ?? DEFAULT_VAULT_NAME;
  const urls: SandboxUrls = {
    baseUrl,
    tenantId,
    authorityHost: baseUrl,
    graphBaseUrl: `${baseUrl}/`,
    vaultUrl: `${baseUrl}/`,
    vaultName,
    vaultResourceId: `/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rollover-sandbox/providers/Microsoft.KeyVault/vaults/${vaultName}`,
    logsIngestionEndpoint: baseUrl,
    dcrImmutableId: DCR_IMMUTABLE_ID,
    streamName: STREAM_NAME,
    caCertPath: tls.caCertPath,
    managedIdentityEndpoint: `${baseUrl}/msi/token`,
    controlUrl: `${baseUrl}/_sandbox`,
  };

  const clock = new VirtualClock();
  const faults = new FaultInjector(options.faultSeed ?? 1);
  if (options.faults) faults.set(parseFaultSpec(options.faults), options.faultSeed ?? 1);
  const tokens = await TokenService.create(clock);
  const directory = createDirectory({ clock, defaultTenantId: tenantId });
  const vault = createVault({ clock, name: vaultName, url: baseUrl, resourceId: urls.vaultResourceId, log });
  const managedIdentity = {
    clientId: "6d1c4f59-0000-4000-8000-0000000000a1",
    objectId: "0f6b4c7e-0000-4000-8000-0000000000a1",
    header: randomUUID(),
  };
  directory.createServicePrincipal(tenantId, {
    appId: managedIdentity.clientId,
    id: managedIdentity.objectId,
    displayName: "rollover-identity",
    kind: "managedIdentity",
  });
  const ctx: SandboxContext = {
    urls,
    clock,
    tokens,
    faults,
    directory,
    vault,
    logs: createLogsStore(),
    signIns: createSignInLog(),
    managedIdentity,
    operator: createOperator(),
    log,
  };
  ctxRef = ctx;
  const eventGrid = new EventGridService(ctx);

  router.add(
    ...controlRoutes(ctx, { eventGrid, reseed: (seed) => seedTenant(ctx, seed) }),
    ...msiRoutes(ctx),
    ...graphRoutes(ctx),
    ...logsRoutes(ctx),
    ...keyVaultRoutes(ctx),
    ...entraRoutes(ctx),
  );

  await seedTenant(ctx, options.seed ?? "empty");
  // Rollover's audit signing key, as the deployment creates it (infra): a standalone RSA key.
  await standaloneKeysOf(ctx.vault, clock).create(AUDIT_SIGNING_KEY, {
    kty: "RSA",
    key_size: 2048,
    key_ops: ["sign", "verify"],
  });

  let azurite: AzuriteHandle | undefined;
  if (options.azurite !== false) azurite = await startAzurite({ log });

  const env: Record<string, string> = {
    AZURE_TENANT_ID: tenantId,
    AZURE_AUTHORITY_HOST: urls.authorityHost,
    AZURE_CLIENT_ID: managedIdentity.clientId,
    IDENTITY_ENDPOINT: urls.managedIdentityEndpoint,
    IDENTITY_HEADER: managedIdentity.header,
    NODE_EXTRA_CA_CERTS: tls.caCertPath,
    ROLLOVER_GRAPH_BASE_URL: urls.graphBaseUrl,
    ROLLOVER_VAULT_URLS: urls.vaultUrl,
    ROLLOVER_ALLOWED_VAULTS: urls.vaultResourceId,
    ROLLOVER_LOGS_INGESTION_ENDPOINT: urls.logsIngestionEndpoint,
    ROLLOVER_DCR_IMMUTABLE_ID: urls.dcrImmutableId,
    ROLLOVER_DCR_STREAM_NAME: urls.streamName,
    ROLLOVER_IDENTITY_OBJECT_ID: managedIdentity.objectId,
    ROLLOVER_SANDBOX_CONTROL_URL: urls.controlUrl,
    ROLLOVER_AUDIT_SIGNING_KEY_ID: `${urls.vaultUrl.replace(/\/+$/, "")}/keys/${AUDIT_SIGNING_KEY}`,
    // The demo seed grants what a deployment with managed mode on grants; run Rollover to match.
    ...(options.seed === "demo" ? { ROLLOVER_MANAGED_MODE: "true" } : {}),
    ...(azurite ? { AzureWebJobsStorage: azurite.connectionString } : {}),
  };

  // The person at the keyboard, for `rollover bind` and friends: DefaultAzureCredential picks
  // these up through EnvironmentCredential (entra/operator.ts).
  const operatorEnv: Record<string, string> = {
    AZURE_TENANT_ID: tenantId,
    AZURE_AUTHORITY_HOST: urls.authorityHost,
    AZURE_CLIENT_ID: ctx.operator.clientId,
    AZURE_CLIENT_SECRET: ctx.operator.secret,
  };

  const counts = new Map<string, number>();

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const url = new URL(req.url ?? "/", baseUrl);
    const path = url.pathname;
    const method = (req.method ?? "GET").toUpperCase();
    const match = router.match(method, path);
    const service: ServiceName =
      match === undefined
        ? guessService(path)
        : "methodMismatch" in match
          ? match.methodMismatch
          : match.route.service;
    counts.set(service, (counts.get(service) ?? 0) + 1);
    // Writes apart, so a test can assert that no write was sent (POST, PATCH, PUT, DELETE); a
    // Graph `$batch` is a POST that writes only what its inner requests write.
    const countWrites = (n: number) => {
      if (n > 0) counts.set(`${service}:write`, (counts.get(`${service}:write`) ?? 0) + n);
    };
    const batch = service === "graph" && method === "POST" && isBatchPath(path);
    if (method !== "GET" && method !== "HEAD" && !batch) countWrites(1);
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks);
      if (batch) countWrites(batchWrites(raw));
      const decision = ctxRef
        ? faults.decide(service, method, path)
        : { kind: "none" as const, latencyMs: 0 };
      if (decision.latencyMs > 0) await sleep(decision.latencyMs);
      if (decision.kind === "reset") {
        req.socket.destroy();
        return;
      }
      if (decision.kind === "timeout") {
        // Hold the request until the client gives up (or 2 minutes pass), as a hung server would.
        const timer = setTimeout(() => req.socket.destroy(), 120_000);
        req.socket.once("close", () => clearTimeout(timer));
        return;
      }
      if (decision.kind === "status") {
        const headers: Record<string, string> = {};
        if (decision.retryAfter !== undefined) headers["Retry-After"] = String(decision.retryAfter);
        if (service === "graph" && decision.status === 429) {
          headers["x-ms-throttle-information"] = "ResourceUnitLimitExceeded";
          headers["x-ms-throttle-scope"] =
            `Tenant_Application/ReadWrite/00000000-0000-0000-0000-000000000000/${tenantId}`;
        }
        const code =
          decision.status === 429
            ? service === "graph"
              ? "TooManyRequests"
              : service === "keyvault"
                ? "Throttled"
                : "TooManyRequests"
            : decision.status === 503
              ? "ServiceUnavailable"
              : "InternalServerError";
        return send(
          res,
          serviceError(
            service,
            decision.status,
            code,
            `Injected fault: ${decision.status}`,
            requestId,
            headers,
          ),
        );
      }
      if (match === undefined) {
        return send(
          res,
          serviceError(service, 404, notFoundCode(service), `No route for ${method} ${path}`, requestId),
        );
      }
      if ("methodMismatch" in match) {
        return send(
          res,
          serviceError(service, 405, "MethodNotAllowed", `${method} is not allowed on ${path}`, requestId),
        );
      }
      const sreq: SandboxRequest = {
        method,
        path,
        url,
        query: parseQuery(url),
        headers: req.headers,
        body: decodeBody(raw, req.headers),
        params: match.params,
        requestId,
      };
      const out = await match.route.handler(sreq);
      send(res, out);
    } catch (e) {
      if (e instanceof BodyError) {
        const code =
          service === "graph" ? "BadRequest" : service === "entra" ? "invalid_request" : "BadParameter";
        return send(res, serviceError(service, 400, code, e.message, requestId));
      }
      log(`error on ${method} ${path}: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent)
        send(res, serviceError(service, 500, "InternalServerError", "Internal sandbox error", requestId));
    }
  }

  return {
    urls,
    env,
    ctx,
    eventGrid,
    ...(azurite ? { azurite } : {}),
    requestCounts: {
      get: () => Object.fromEntries(counts),
      reset: () => counts.clear(),
    },
    operatorEnv,
    readyLine: () => JSON.stringify({ ...urls, env, operator: { env: operatorEnv } }),
    async close() {
      await eventGrid.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      if (azurite) await azurite.close();
    },
  };
}

function send(res: ServerResponse, out: SandboxResponse): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...(out.headers ?? {}) };
  let payload: Buffer | undefined;
  if (out.body !== undefined && out.status !== 204) {
    if (out.raw) {
      payload = Buffer.isBuffer(out.body) ? out.body : Buffer.from(String(out.body));
    } else {
      payload = Buffer.from(JSON.stringify(out.body));
      headers["Content-Type"] ??= "application/json; charset=utf-8";
    }
  }
  headers["Content-Length"] = String(payload?.length ?? 0);
  res.writeHead(out.status, headers);
  res.end(payload);
}

function guessService(path: string): ServiceName {
  if (/^\/(v1\.0|beta)(\/|$)/i.test(path)) return "graph";
  if (/^\/(certificates|keys|secrets|deleted)/i.test(path)) return "keyvault";
  if (/^\/dataCollectionRules/i.test(path)) return "logs";
  if (/^\/_sandbox/.test(path)) return "control";
  if (/^\/msi/.test(path)) return "msi";
  return "entra";
}

function notFoundCode(service: ServiceName): string {
  switch (service) {
    case "graph":
      return "Request_ResourceNotFound";
    case "keyvault":
      return "NotFound";
    case "entra":
      return "invalid_request";
    default:
      return "NotFound";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
