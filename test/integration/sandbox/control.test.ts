import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { validateSandboxCliOptions } from "../../../sandbox/cli.js";
import { useSandbox } from "../../helpers/sandbox.js";

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are read field by field
  body: any;
}

function call(
  url: string,
  method = "GET",
  body?: unknown,
  headers: Record<string, string> = { "Content-Type": "application/json" },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const req = request(url, { method, headers: payload === undefined ? {} : headers }, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => {
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // plain text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

describe("control API", () => {
  const sb = useSandbox();
  const url = (path: string) => `${sb().urls.controlUrl}${path}`;

  afterEach(() => {
    sb().ctx.faults.clear();
  });

  it("lists its routes at /_sandbox", async () => {
    const res = await call(url(""));
    expect(res.status).toBe(200);
    expect(res.body.routes).toContain("POST /_sandbox/clock/advance");
    expect(res.body.urls.controlUrl).toBe(sb().urls.controlUrl);
  });

  it("reads and advances the virtual clock", async () => {
    const before = await call(url("/clock"));
    expect(before.status).toBe(200);
    expect(new Date(before.body.now).getTime()).toBe(before.body.epochMs);
    const moved = await call(url("/clock/advance"), "POST", { days: 1, hours: 2, seconds: 30 });
    expect(moved.status).toBe(200);
    expect(moved.body.advancedMs).toBe(26 * 3_600_000 + 30_000);
    expect(moved.body.offsetMs - before.body.offsetMs).toBe(26 * 3_600_000 + 30_000);
    expect(sb().ctx.clock.offset).toBe(moved.body.offsetMs);
  });

  it("answers bad bodies with 400 and a one-line message", async () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ["/clock/advance", "POST", { weeks: 1 }, /unknown field "weeks"/],
      ["/clock/advance", "POST", { days: -1 }, /only moves forward/],
      ["/clock/advance", "POST", { days: "2" }, /must be a number/],
      ["/clock/advance", "POST", {}, /how far to move/],
      ["/clock/advance", "POST", "{", /malformed JSON/],
      ["/clock/advance", "POST", "[1]", /JSON object/],
      ["/seed", "POST", { seed: "everything" }, /unknown seed "everything"/],
      ["/seed", "POST", { seed: "scale:0" }, /scale:N must be from 1/],
      ["/seed", "POST", {}, /"seed"/],
      ["/faults", "PUT", { spec: "graph=explode" }, /unknown kind "explode"/],
      ["/faults", "PUT", { rules: [] }, /"spec"/],
      ["/eventgrid/settings", "PUT", { speed: 2 }, /unknown setting "speed"/],
      ["/eventgrid/settings", "PUT", { timeScale: 5 }, /timeScale/],
      ["/eventgrid/subscriptions", "POST", { endpointUrl: "not a url" }, /not an absolute URL/],
      ["/eventgrid/subscriptions", "POST", { endpointUrl: "http://127.0.0.1:1/x", schema: "Avro" }, /schema/],
      ["/logs/abc", "DELETE", undefined, /not a record index/],
    ];
    for (const [path, method, body, message] of cases) {
      const res = await call(url(path), method, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error.message, `${method} ${path}`).toMatch(message);
      expect(res.body.error.message).not.toContain("\n");
    }
  });

  it("answers unknown control routes with 404", async () => {
    const res = await call(url("/nothing"));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("NotFound");
  });

  it("sets, lists and clears faults from a spec string (JSON or text/plain)", async () => {
    const set = await call(url("/faults"), "PUT", { spec: "graph=429@0.3/2; keyvault:/certificates=503x3" });
    expect(set.status).toBe(200);
    expect(set.body.rules).toEqual(["graph=429@0.3/2", "keyvault:/certificates=503x3"]);
    expect((await call(url("/faults"))).body.spec).toBe("graph=429@0.3/2;keyvault:/certificates=503x3");

    const text = await call(url("/faults"), "PUT", "logs=429x2/1", { "Content-Type": "text/plain" });
    expect(text.body.rules).toEqual(["logs=429x2/1"]);

    // The injected fault is live: a Logs Ingestion call now gets 429 with Retry-After.
    const hit = await call(
      `${sb().urls.logsIngestionEndpoint}/dataCollectionRules/${sb().urls.dcrImmutableId}/streams/${sb().urls.streamName}?api-version=2023-01-01`,
      "POST",
      [],
    );
    expect(hit.status).toBe(429);

    expect((await call(url("/faults"), "DELETE")).status).toBe(204);
    expect((await call(url("/faults"))).body.rules).toEqual([]);
  });

  it("reads and changes Event Grid settings", async () => {
    const res = await call(url("/eventgrid/settings"), "PUT", { timeScale: 0.01, duplicate: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ timeScale: 0.01, duplicate: true, shuffle: false });
    expect((await call(url("/eventgrid/settings"))).body.duplicate).toBe(true);
    await call(url("/eventgrid/settings"), "PUT", { timeScale: 0.001, duplicate: false });
  });

  it("serves the sign-in log", async () => {
    sb().ctx.signIns.add({
      time: new Date().toISOString(),
      tenantId: sb().urls.tenantId,
      clientId: "11111111-0000-4000-8000-000000000001",
      credentialType: "certificate",
      credential: "ABCDEF",
      resource: "https://graph.microsoft.com",
      success: true,
    });
    const all = await call(url("/signins"));
    expect(all.status).toBe(200);
    expect(all.body.value.some((e: { credential?: string }) => e.credential === "ABCDEF")).toBe(true);
    const filtered = await call(url("/signins?clientId=11111111-0000-4000-8000-000000000001"));
    expect(filtered.body.count).toBe(1);
  });

  it("seeds and resets the tenant, and summarises it", async () => {
    const seeded = await call(url("/seed"), "POST", { seed: "demo" });
    expect(seeded.status).toBe(200);
    expect(seeded.body.seed).toBe("demo");
    const tenant = await call(url("/tenant"));
    expect(tenant.status).toBe(200);
    expect(tenant.body.tenants.length).toBeGreaterThanOrEqual(2);
    expect(tenant.body.vault.certificateCount).toBeGreaterThan(0);
    expect(tenant.body.vault.certificates[0]).toMatchObject({
      name: expect.any(String),
      thumbprint: expect.stringMatching(/^[0-9A-F]{40}$/),
    });

    const reset = await call(url("/reset"), "POST");
    expect(reset.status).toBe(200);
    const after = await call(url("/tenant"));
    expect(after.body.vault.certificateCount).toBe(0);
    // Rollover's managed identity is always there.
    expect(
      after.body.tenants.find((t: { tenantId: string }) => t.tenantId === sb().urls.tenantId).objects,
    ).toBe(1);
  });
});

describe("runSandboxCli", () => {
  it("validates its options with one-line messages naming the option", () => {
    expect(() => validateSandboxCliOptions({ seed: "lots" })).toThrow(/^--seed: unknown seed "lots"/);
    expect(() => validateSandboxCliOptions({ faults: "graph=boom" })).toThrow(/^--faults: bad fault rule/);
    expect(() => validateSandboxCliOptions({ port: 70_000 })).toThrow(/^--port 70000: use a port number/);
    expect(validateSandboxCliOptions({ seed: "scale:10" })).toEqual({ port: 0, seed: "scale:10" });
  });

  it("prints exactly one JSON line with every contract field, then stops with exit 0 on SIGTERM", async () => {
    const state = mkdtempSync(join(tmpdir(), "rollover-cli-test-"));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "sandbox/cli-main.ts", "--seed", "demo", "--state", state],
      { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const started = Date.now();
      while (!stdout.includes("\n")) {
        if (child.exitCode !== null) throw new Error(`sandbox exited early: ${stderr}`);
        if (Date.now() - started > 60_000) throw new Error(`no ready line within 60 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      console.log(`rollover sandbox --seed demo: ready line after ${Date.now() - started} ms`);
      const ready = JSON.parse(stdout.split("\n")[0]!);
      for (const field of [
        "tenantId",
        "authorityHost",
        "graphBaseUrl",
        "vaultUrl",
        "vaultName",
        "vaultResourceId",
        "logsIngestionEndpoint",
        "dcrImmutableId",
        "streamName",
        "caCertPath",
        "managedIdentityEndpoint",
        "controlUrl",
        "env",
      ]) {
        expect(ready[field], field).toBeTruthy();
      }
      expect(ready.caCertPath).toBe(join(state, "sandbox-ca.pem"));
      expect(ready.env.AzureWebJobsStorage).toMatch(
        /^DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;/,
      );
      expect(ready.env.NODE_EXTRA_CA_CERTS).toBe(ready.caCertPath);

      // The running sandbox answers; its state dir is new, so its CA is too: trust it explicitly.
      const ca = readFileSync(ready.caCertPath);
      const tenant = await new Promise<number>((resolve, reject) => {
        request(`${ready.controlUrl}/tenant`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on("error", reject)
          .end();
      });
      expect(tenant).toBe(200);

      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(stdout.trim().split("\n")).toHaveLength(1);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("exits 2 with a one-line message for a bad option", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "sandbox/cli-main.ts", "--seed", "nope"], {
      cwd: process.cwd(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim()).toMatch(/^rollover sandbox: --seed: unknown seed "nope"/);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});
