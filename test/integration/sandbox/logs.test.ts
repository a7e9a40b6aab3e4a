import { request } from "node:https";
import { gzipSync } from "node:zlib";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { isAggregateLogsUploadError, LogsIngestionClient } from "@azure/monitor-ingestion";
import { afterEach, describe, expect, it } from "vitest";
import type { SandboxHandle } from "../../../sandbox/index.js";
import { useSandbox } from "../../helpers/sandbox.js";

/** A credential that gets a real token from the sandbox's token service for the given audience. */
function sandboxCredential(sb: () => SandboxHandle, aud = "https://monitor.azure.com"): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      const { ctx } = sb();
      const t = await ctx.tokens.issue({
        aud,
        iss: `https://sts.windows.net/${ctx.urls.tenantId}/`,
        tid: ctx.urls.tenantId,
        oid: ctx.managedIdentity.objectId,
        appid: ctx.managedIdentity.clientId,
      });
      return { token: t.token, expiresOnTimestamp: t.expiresOn * 1000 };
    },
  };
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function raw(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? "GET", headers: init.headers }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

describe("Logs Ingestion", () => {
  const sb = useSandbox();
  const client = () =>
    new LogsIngestionClient(sb().urls.logsIngestionEndpoint, sandboxCredential(sb), {
      retryOptions: { maxRetries: 3 },
    });
  const ingestUrl = (rule?: string, stream?: string) =>
    `${sb().urls.logsIngestionEndpoint}/dataCollectionRules/${rule ?? sb().urls.dcrImmutableId}/streams/${
      stream ?? sb().urls.streamName
    }?api-version=2023-01-01`;
  const token = async () =>
    (await sandboxCredential(sb).getToken("https://monitor.azure.com/.default"))!.token;

  afterEach(() => {
    sb().ctx.faults.clear();
    sb().ctx.logs.reset();
  });

  it("accepts an upload from LogsIngestionClient and keeps the records with TimeGenerated", async () => {
    const { urls, ctx } = sb();
    const sent = "2026-01-02T03:04:05.000Z";
    await client().upload(urls.dcrImmutableId, urls.streamName, [
      { TimeGenerated: sent, Action: "attach", Target: "app-1" },
      { Action: "verify", Target: "app-1" },
    ]);
    const records = ctx.logs.records({ stream: urls.streamName });
    expect(records).toHaveLength(2);
    expect(records[0]!.record).toMatchObject({ TimeGenerated: sent, Action: "attach" });
    // No TimeGenerated from the sender: the ingestion time on the virtual clock.
    expect(records[1]!.record.TimeGenerated).toBe(records[1]!.receivedAt);
    expect(records[1]!.dcrImmutableId).toBe(urls.dcrImmutableId);
  });

  it("takes a large batch in chunks under 1 MB each", async () => {
    const { urls, ctx } = sb();
    const big = "x".repeat(2000);
    const logs = Array.from({ length: 1500 }, (_, i) => ({ Seq: i, Payload: big }));
    await client().upload(urls.dcrImmutableId, urls.streamName, logs, { maxConcurrency: 2 });
    const records = ctx.logs.records();
    expect(records).toHaveLength(1500);
    expect(new Set(records.map((r) => r.record.Seq)).size).toBe(1500);
  });

  it("answers 413 ContentLengthLimitExceeded for a call over 1 MB, which the client reports per chunk", async () => {
    const { urls, ctx } = sb();
    // One record over 1 MB is sent alone by the client and refused by the service.
    const huge = { Seq: 0, Payload: "y".repeat(1_100_000) };
    const small = { Seq: 1, Payload: "ok" };
    const failures: unknown[][] = [];
    let caught: unknown;
    try {
      await client().upload(urls.dcrImmutableId, urls.streamName, [small, huge], {
        onError: (f) => {
          failures.push(f.failedLogs);
        },
      });
    } catch (e) {
      caught = e;
    }
    expect(isAggregateLogsUploadError(caught)).toBe(true);
    const err = (caught as { errors: Array<{ cause: { statusCode?: number; code?: string } }> }).errors[0]!;
    expect(err.cause.statusCode).toBe(413);
    expect(err.cause.code).toBe("ContentLengthLimitExceeded");
    expect(failures).toHaveLength(1);
    expect(failures[0]).toHaveLength(1);
    // The small record went in its own chunk and was stored.
    expect(ctx.logs.records().map((r) => r.record.Seq)).toEqual([1]);
  });

  it("413 on the raw wire carries the service's message", async () => {
    const body = gzipSync(JSON.stringify([{ Payload: "z".repeat(1_100_000) }]));
    const res = await raw(ingestUrl(), {
      method: "POST",
      headers: {
        Authorization: `Bearer ${await token()}`,
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
      },
      body,
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error).toEqual({
      code: "ContentLengthLimitExceeded",
      message: expect.stringMatching(
        /^Maximum allowed content length: 1048576 bytes \(1 MB\)\. Provided content length: \d+ bytes\.$/,
      ),
    });
  });

  it("retries 429 with Retry-After (fault logs=429x2/1) and then succeeds", async () => {
    const { urls, ctx } = sb();
    ctx.faults.set([{ service: "logs", kind: "429", count: 2, param: 1 }]);
    const started = Date.now();
    await client().upload(urls.dcrImmutableId, urls.streamName, [{ Action: "retry-me" }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(ctx.faults.hits.get("429")).toBeGreaterThanOrEqual(2);
    expect(ctx.logs.records()).toHaveLength(1);
  });

  it("gives up after the client's retries when every call is throttled", async () => {
    const { urls, ctx } = sb();
    ctx.faults.set([{ service: "logs", kind: "429", param: 0 }]);
    const c = new LogsIngestionClient(urls.logsIngestionEndpoint, sandboxCredential(sb), {
      retryOptions: { maxRetries: 1 },
    });
    const caught = await c.upload(urls.dcrImmutableId, urls.streamName, [{ Action: "x" }]).catch((e) => e);
    expect(isAggregateLogsUploadError(caught)).toBe(true);
    expect(
      (caught as { errors: Array<{ cause: { statusCode?: number } }> }).errors[0]!.cause.statusCode,
    ).toBe(429);
    expect(ctx.logs.records()).toHaveLength(0);
  });

  it("answers 404 for an unknown rule or stream", async () => {
    const headers = { Authorization: `Bearer ${await token()}`, "Content-Type": "application/json" };
    const rule = await raw(ingestUrl("dcr-ffffffffffffffffffffffffffffffff"), {
      method: "POST",
      headers,
      body: "[]",
    });
    expect(rule.status).toBe(404);
    expect(JSON.parse(rule.body).error.code).toBe("NotFound");
    const stream = await raw(ingestUrl(undefined, "Custom-Nope_CL"), { method: "POST", headers, body: "[]" });
    expect(stream.status).toBe(404);
    expect(JSON.parse(stream.body).error.code).toBe("InvalidStream");
  });

  it("answers 400 InvalidPayload for malformed JSON and for a body that is not an array", async () => {
    const headers = { Authorization: `Bearer ${await token()}`, "Content-Type": "application/json" };
    for (const body of ["[{", '{"Action":"x"}', "[1,2]"]) {
      const res = await raw(ingestUrl(), { method: "POST", headers, body });
      expect(res.status, body).toBe(400);
      const parsed = JSON.parse(res.body);
      expect(parsed.error.code).toBe("InvalidPayload");
      expect(typeof parsed.error.message).toBe("string");
    }
    expect(sb().ctx.logs.records()).toHaveLength(0);
  });

  it("answers 415 for a body that is not JSON", async () => {
    const res = await raw(ingestUrl(), {
      method: "POST",
      headers: { Authorization: `Bearer ${await token()}`, "Content-Type": "text/plain" },
      body: "[]",
    });
    expect(res.status).toBe(415);
  });

  it("refuses a missing, forged or wrong-audience token with 401", async () => {
    const { urls } = sb();
    const noToken = await raw(ingestUrl(), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "[]",
    });
    expect(noToken.status).toBe(401);
    expect(JSON.parse(noToken.body).error.code).toBe("AuthenticationFailed");

    const good = await token();
    const [h, p] = good.split(".");
    const forged = `${h}.${p}.${Buffer.from("not a signature").toString("base64url")}`;
    const bad = await raw(ingestUrl(), {
      method: "POST",
      headers: { Authorization: `Bearer ${forged}`, "Content-Type": "application/json" },
      body: "[]",
    });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body).error.code).toBe("InvalidAuthenticationToken");

    const vaultToken = (await sandboxCredential(sb, "https://vault.azure.net").getToken("x"))!.token;
    const wrongAud = await raw(ingestUrl(), {
      method: "POST",
      headers: { Authorization: `Bearer ${vaultToken}`, "Content-Type": "application/json" },
      body: "[]",
    });
    expect(wrongAud.status).toBe(401);
    expect(JSON.parse(wrongAud.body).error.code).toBe("InvalidAuthenticationTokenAudience");

    // The client itself surfaces the refusal.
    const c = new LogsIngestionClient(
      urls.logsIngestionEndpoint,
      sandboxCredential(sb, "https://vault.azure.net"),
    );
    const caught = await c.upload(urls.dcrImmutableId, urls.streamName, [{ A: 1 }]).catch((e) => e);
    expect(isAggregateLogsUploadError(caught)).toBe(true);
  });

  it("exposes records through the control API and lets tests tamper with them", async () => {
    const { urls } = sb();
    await client().upload(urls.dcrImmutableId, urls.streamName, [
      { Action: "a", Hash: "h1" },
      { Action: "b", Hash: "h2" },
      { Action: "c", Hash: "h3" },
    ]);
    const list = JSON.parse((await raw(`${urls.controlUrl}/logs?stream=${urls.streamName}`)).body);
    expect(list.count).toBe(3);
    expect(list.value.map((r: { index: number }) => r.index)).toEqual([0, 1, 2]);

    const patched = await raw(`${urls.controlUrl}/logs/1`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ Action: "edited", Hash: null }),
    });
    expect(patched.status).toBe(200);
    expect(JSON.parse(patched.body).record).toMatchObject({ Action: "edited" });
    expect(JSON.parse(patched.body).record.Hash).toBeUndefined();

    expect((await raw(`${urls.controlUrl}/logs/0`, { method: "DELETE" })).status).toBe(204);
    const after = JSON.parse((await raw(`${urls.controlUrl}/logs`)).body);
    expect(after.value.map((r: { record: { Action: string } }) => r.record.Action)).toEqual(["edited", "c"]);

    const missing = await raw(`${urls.controlUrl}/logs/99`, { method: "DELETE" });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).error.message).toMatch(/no log record at index 99/);
  });
});
