/**
 * Golden tests: Microsoft's published samples (test/fixtures/golden/, sources in its README)
 *
 * 1. are parsed by Rollover's edge: the Key Vault examples of the REST specs are served, as they
 *    are, by a replay server to the real `@azure/keyvault-certificates` / `-keys` clients inside
 *    VaultEdge; the Event Grid and alert samples go through the events and remediation parsers;
 * 2. have the same shape as what the sandbox answers: every key of the sample is in the
 *    sandbox's answer with a value of the same JSON type, recursively (extra keys the sandbox adds
 *    are listed, with the source that says the service sends them too).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultEdge } from "../../shared/azure/keyvault.js";
import { parseEvents, validationCodeOf } from "../../shared/events/parse.js";
import { parseCommonAlert } from "../../shared/remediation/alert.js";
import { useSandboxIdentity } from "../helpers/engine.js";
import { sandboxStateDir, useSandbox } from "../helpers/sandbox.js";

const GOLDEN = resolve(import.meta.dirname, "../fixtures/golden");
const SAMPLE_VAULT = "https://myvault.vault.azure.net";

function golden(path: string): unknown {
  return JSON.parse(readFileSync(join(GOLDEN, path), "utf8"));
}
function example(name: string): {
  parameters: Record<string, unknown>;
  responses: Record<string, { body: unknown }>;
} {
  return golden(`keyvault/${name}`) as never;
}
function responseBody(name: string): Record<string, unknown> {
  const r = example(name).responses;
  return r[Object.keys(r)[0]!]!.body as Record<string, unknown>;
}

// --- shape comparison -------------------------------------------------------------------------

type JsonType = "null" | "array" | "object" | "string" | "number" | "boolean";
function typeOf(v: unknown): JsonType {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v as JsonType;
}

interface ShapeDiff {
  missing: string[];
  typeMismatch: string[];
  extra: string[];
}

/**
 * Where `actual` differs in shape from `sample`: keys the sample has and `actual` lacks, values of
 * another JSON type (a sample's `null` matches anything: the spec's `nextLink: null`), and keys
 * `actual` adds. Arrays compare their first elements.
 */
function shapeDiff(sample: unknown, actual: unknown, path = "$", out?: ShapeDiff): ShapeDiff {
  const d = out ?? { missing: [], typeMismatch: [], extra: [] };
  const ts = typeOf(sample);
  const ta = typeOf(actual);
  if (ts === "null") return d;
  if (ts !== ta) {
    d.typeMismatch.push(`${path}: ${ts} in the sample, ${ta} here`);
    return d;
  }
  if (ts === "array") {
    const [s0] = sample as unknown[];
    const [a0] = actual as unknown[];
    if (s0 !== undefined && a0 !== undefined) shapeDiff(s0, a0, `${path}[0]`, d);
    return d;
  }
  if (ts === "object") {
    const s = sample as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    for (const k of Object.keys(s)) {
      if (!(k in a)) d.missing.push(`${path}.${k}`);
      else shapeDiff(s[k], a[k], `${path}.${k}`, d);
    }
    for (const k of Object.keys(a)) if (!(k in s)) d.extra.push(`${path}.${k}`);
  }
  return d;
}

/**
 * Keys the sandbox sends that the spec examples leave out, and why the service sends them too.
 * - `attributes.recoverableDays`, `tags`, `policy.x509_props.sans`/`basic_constraints`: in the recorded
 *   bundle (kv-monitor-functions.md §2.3, azure-sdk-for-js keyvault-certificates recording).
 * - `pending`: the bundle of a certificate with an operation (same recording).
 * - `target` on a completed operation (recording, §2.2).
 */
const DOCUMENTED_EXTRA = [
  /\.attributes\.recoverableDays$/,
  /\.attributes\.recoveryLevel$/,
  /\.tags$/,
  /\.x509_props\.(sans|basic_constraints)$/,
  /^\$\.pending$/,
  /^\$\.target$/,
  /^\$\.preserveCertOrder$/,
];

function expectSameShape(sample: unknown, actual: unknown): void {
  const d = shapeDiff(sample, actual);
  expect(d.missing, "keys of Microsoft's sample missing here").toEqual([]);
  expect(d.typeMismatch, "values of another JSON type").toEqual([]);
  expect(
    d.extra.filter((p) => !DOCUMENTED_EXTRA.some((r) => r.test(p))),
    "keys the sample does not have",
  ).toEqual([]);
}

describe("the shape comparison itself", () => {
  it("finds a missing key, a value of another type and an extra key; a sample's null matches anything", () => {
    const d = shapeDiff(
      { a: 1, b: { c: "x" }, n: null, l: [{ k: true }] },
      { a: "1", b: {}, n: "next", l: [{ k: true, z: 0 }], e: 1 },
    );
    expect(d).toEqual({
      missing: ["$.b.c"],
      typeMismatch: ["$.a: number in the sample, string here"],
      extra: ["$.l[0].z", "$.e"],
    });
  });
});

// --- a replay server for the Key Vault examples -----------------------------------------------

interface Replayed {
  method: string;
  path: string;
  body: unknown;
}

class ReplayVault {
  private server!: Server;
  url = "";
  requests: Replayed[] = [];

  async start(): Promise<this> {
    const dir = sandboxStateDir();
    this.server = createHttpsServer(
      {
        cert: readFileSync(join(dir, "sandbox-server.pem")),
        key: readFileSync(join(dir, "sandbox-server.key")),
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const out = this.answer(req, text);
          res.writeHead(out.status, { "Content-Type": "application/json", ...(out.headers ?? {}) });
          res.end(out.body === undefined ? undefined : JSON.stringify(out.body));
        });
      },
    );
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  /** The example's body with the sample vault's URL replaced by this server's. */
  private body(name: string): unknown {
    return JSON.parse(JSON.stringify(responseBody(name)).replaceAll(SAMPLE_VAULT, this.url));
  }

  private answer(
    req: IncomingMessage,
    text: string,
  ): { status: number; body?: unknown; headers?: Record<string, string> } {
    const u = new URL(req.url ?? "/", this.url);
    const path = u.pathname.replace(/\/$/, "");
    this.requests.push({ method: req.method ?? "", path, body: text ? JSON.parse(text) : undefined });
    if (!req.headers.authorization) {
      // Key Vault's challenge (authentication-requests-and-responses.md).
      return {
        status: 401,
        body: {
          error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." },
        },
        headers: {
          "WWW-Authenticate": `Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"`,
        },
      };
    }
    const m = req.method;
    if (m === "GET" && path === "/certificates")
      return { status: 200, body: this.body("GetCertificates-example.json") };
    if (m === "GET" && /^\/certificates\/[^/]+\/versions$/.test(path))
      return { status: 200, body: this.body("GetCertificateVersions-example.json") };
    if (m === "GET" && /^\/certificates\/[^/]+\/policy$/.test(path))
      return { status: 200, body: this.body("GetCertificatePolicy-example.json") };
    if (m === "GET" && /^\/certificates\/[^/]+\/pending$/.test(path))
      return { status: 200, body: this.body("GetCertificateOperation-example.json") };
    if (m === "POST" && /^\/certificates\/[^/]+\/create$/.test(path))
      return { status: 202, body: this.body("CreateCertificate-example.json") };
    if (m === "GET" && /^\/certificates\/[^/]+(\/[0-9a-f]{32})?$/.test(path))
      return { status: 200, body: this.body("GetCertificate-example.json") };
    if (m === "GET" && /^\/keys\/[^/]+\/[0-9a-f]{32}$/.test(path)) {
      // The key behind the sign example (GetKey is not among the stored samples): an RSA JWK.
      const [, , name, version] = path.split("/");
      return {
        status: 200,
        body: {
          key: {
            kid: `${this.url}/keys/${name}/${version}`,
            kty: "RSA",
            key_ops: ["sign", "verify"],
            n: Buffer.alloc(256, 1).toString("base64url"),
            e: "AQAB",
          },
          attributes: { enabled: true, created: 1493942451, updated: 1493942451 },
        },
      };
    }
    if (m === "POST" && /^\/keys\/[^/]+\/[0-9a-f]{32}\/sign$/.test(path))
      return { status: 200, body: this.body("sign-example.json") };
    return { status: 404, body: { error: { code: "NotFound", message: `no sample for ${m} ${path}` } } };
  }
}

const anyToken: TokenCredential = {
  getToken: async () => ({ token: "golden", expiresOnTimestamp: Date.now() + 3_600_000 }),
};

describe("Microsoft's Key Vault examples through VaultEdge (real SDK clients, replayed)", () => {
  let replay: ReplayVault;
  let edge: VaultEdge;
  beforeAll(async () => {
    replay = await new ReplayVault().start();
    edge = new VaultEdge(replay.url, anyToken);
  });
  afterAll(() => replay.close());

  it("GetCertificates-example: listed by name, no tags", async () => {
    const listed = [];
    for await (const c of edge.listCertificates()) listed.push(c);
    expect(listed).toEqual([
      { name: "listCert01", tags: {} },
      { name: "listCert02", tags: {} },
    ]);
  });

  it("GetCertificateVersions, GetCertificatePolicy and GetCertificateOperation examples: observed versions, a non-renewable issuer, a pending renewal", async () => {
    const o = await edge.observe("listVersionsCert01");
    const thumb = Buffer.from("fLi3U52HunIVNXubkEnf8tP6Wbo", "base64url").toString("hex").toUpperCase();
    expect(o).toEqual({
      versions: [
        {
          version: "002ade539442463aba45c0efb42e3e84",
          thumbprint: thumb,
          notBefore: 1430344421000,
          expires: 2208988799000,
          created: 1482189534000,
          enabled: true,
        },
        {
          version: "7fcb3e9eb8bf43f3a6ff4b9c3740801d",
          thumbprint: thumb,
          notBefore: 1430344421000,
          expires: 2208988799000,
          created: 1482189532000,
          enabled: true,
        },
      ],
      // issuer "Unknown": a non-integrated CA; Key Vault cannot renew it by itself.
      policy: {
        issuerName: "Unknown",
        renewable: false,
        exportable: true,
        lifetimeTriggers: [{ lifetimePercentage: 80 }],
        // validity_months 297 from the policy example: checked against app management policies before renew.
        validityMonths: 297,
      },
      renewalPending: true,
      // The sample's operation: its request id, and the public key of its CSR (read from the
      // sample's PKCS#10), which is how Rollover knows the version that operation produces.
      operation: {
        requestId: "6faacd568ab049a2803861e8dd3ae21f",
        status: "inProgress",
        spkiSha256: "40168199c9cd5a0363c07700dfe0cc033c8be0fdb06b4897fc9317e2df1b5384",
      },
      tags: {},
    });
  });

  it("GetCertificate-example: material (kid, DER, SHA-1 that matches the sample's x5t, validity)", async () => {
    const m = await edge.material("selfSignedCert01", "f60f2a4f8ae442cfb41ca2090bd4b769");
    const sample = responseBody("GetCertificate-example.json") as { cer: string; x5t: string };
    expect(m.kid).toBe(`${replay.url}/keys/selfSignedCert01/f60f2a4f8ae442cfb41ca2090bd4b769`);
    expect(Buffer.from(m.cer).toString("base64")).toBe(sample.cer);
    expect(Buffer.from(m.thumbprintHex, "hex").toString("base64url")).toBe(sample.x5t);
    expect(m.sha256Hex).toBe(createHash("sha256").update(m.cer).digest("hex").toUpperCase());
    expect(m.notBefore).toBe(1430344421000);
    expect(m.expires).toBe(2208988799000);
  });

  it("CreateCertificate-example: renew posts a policy shaped like the example's request and leaves an in-progress operation for the next pass", async () => {
    replay.requests = [];
    const version = await edge.renew("selfSignedCert01", { "rollover-target": "x" }, 300, 100);
    expect(version).toBeUndefined();
    const create = replay.requests.find((r) => r.method === "POST" && r.path.endsWith("/create") && r.body);
    const sent = create!.body as { policy: Record<string, unknown>; tags: Record<string, string> };
    const request = example("CreateCertificate-example.json").parameters.parameters as {
      policy: Record<string, unknown>;
    };
    for (const k of ["key_props", "secret_props", "x509_props", "issuer"])
      expect(sent.policy).toHaveProperty(k);
    expect(sent.policy.issuer).toEqual({ name: "Unknown" });
    expect(Object.keys(request.policy).every((k) => k in sent.policy)).toBe(true);
    expect(sent.tags).toEqual({ "rollover-target": "x" });
  });

  it("sign-example: the signer returns the example's signature bytes and sends alg and value", async () => {
    replay.requests = [];
    const kid = `${replay.url}/keys/testkey/9885aa558e8d448789683188f8c194b0`;
    const sig = await edge.signer(kid)("RS256", new Uint8Array(32));
    const sample = responseBody("sign-example.json") as { value: string };
    expect(Buffer.from(sig).toString("base64url")).toBe(sample.value);
    const sent = replay.requests.find((r) => r.path.endsWith("/sign") && r.body)!.body as Record<
      string,
      unknown
    >;
    const params = example("sign-example.json").parameters.parameters as Record<string, unknown>;
    expect(Object.keys(sent).sort()).toEqual(Object.keys(params).sort());
    expect(sent.alg).toBe("RS256");
  });
});

describe("the sandbox answers in the shape of Microsoft's Key Vault examples", () => {
  const sb = useSandbox({ seed: "demo" });
  let token = "";
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(
      `${sb().urls.vaultUrl.replace(/\/$/, "")}${path}${path.includes("?") ? "&" : "?"}api-version=7.5`,
      {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      },
    );
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** Made from CreateCertificate-example's own request, so the service's defaults fill the rest. */
  const cert = "golden-selfsigned";

  beforeAll(async () => {
    useSandboxIdentity(sb());
    const cred = new ManagedIdentityCredential({ clientId: sb().ctx.managedIdentity.clientId });
    token = (await cred.getToken("https://vault.azure.net/.default"))!.token;
    const request = example("CreateCertificate-example.json").parameters.parameters;
    const created = await call("POST", `/certificates/${cert}/create`, request);
    expect(created.status).toBe(202);
    expectSameShape(responseBody("CreateCertificate-example.json"), created.body);
    const pending = await call("GET", `/certificates/${cert}/pending`);
    expect(pending.status).toBe(200);
    // An in-progress operation has the example's shape; a completed one drops status_details
    // and names its target (recording, kv-monitor-functions.md §2.2).
    expectSameShape(
      pending.body.status === "inProgress"
        ? responseBody("GetCertificateOperation-example.json")
        : { ...responseBody("GetCertificateOperation-example.json"), status_details: null },
      pending.body,
    );
    await sb().ctx.vault.settle(); // the issuance under way, for the tests that read the version
  });

  it("CreateCertificate (202), GetCertificateOperation, then GetCertificate: a certificate bundle", async () => {
    const v = sb().ctx.vault.latest(cert)!.version;
    const r = await call("GET", `/certificates/${cert}/${v}`);
    expect(r.status).toBe(200);
    expectSameShape(responseBody("GetCertificate-example.json"), r.body);
  });

  it("GetCertificatePolicy, GetCertificateVersions, GetCertificates", async () => {
    expectSameShape(
      responseBody("GetCertificatePolicy-example.json"),
      (await call("GET", `/certificates/${cert}/policy`)).body,
    );
    expectSameShape(
      responseBody("GetCertificateVersions-example.json"),
      (await call("GET", `/certificates/${cert}/versions`)).body,
    );
    expectSameShape(responseBody("GetCertificates-example.json"), (await call("GET", "/certificates")).body);
  });

  it("sign: kid and value", async () => {
    const v = sb().ctx.vault.latest(cert)!.version;
    const params = example("sign-example.json").parameters.parameters as { alg: string; value: string };
    const r = await call("POST", `/keys/${cert}/${v}/sign`, {
      alg: "RS512",
      value: Buffer.alloc(64, 7).toString("base64url"),
    });
    expect(r.status).toBe(200);
    expect(Object.keys(params)).toEqual(["alg", "value"]);
    expectSameShape(responseBody("sign-example.json"), r.body);
  });
});

describe("Event Grid and Azure Monitor samples", () => {
  it("Rollover's event parser reads the spec's and the docs' Key Vault events and the validation event", () => {
    const eg = parseEvents(golden("eventgrid/secret_new_version_created.eventgrid.json"));
    expect(eg[0]).toMatchObject({
      schema: "EventGridSchema",
      type: "Microsoft.KeyVault.SecretNewVersionCreated",
      subject: "newsecret",
      data: {
        objectName: "newsecret",
        version: "ee059b2bb5bc48398a53b168c6cdcb10",
        nbf: 1559081980,
        exp: 1559082102,
      },
    });
    // The docs' CloudEvents sample keeps its typos ("ObjectName " and " ee05…"): read anyway.
    const ce = parseEvents(golden("eventgrid/secret_new_version_created.docs.cloudevents.json"));
    expect(ce[0]).toMatchObject({
      schema: "CloudEventSchemaV1_0",
      data: { objectName: "newsecret", version: "ee059b2bb5bc48398a53b168c6cdcb10" },
    });
    const validation = (golden("eventgrid/subscription-validation.json") as unknown[])[0];
    expect(validationCodeOf(validation)).toBe("512d38b6-c7b8-40c8-89fe-f46f9e9622b6");
  });

  it("Rollover's alert parser reads the common alert schema sample, and a log alert (V2) context in it", () => {
    const metric = parseCommonAlert(golden("monitor/common-alert-schema-metric.json"));
    expect(metric).toMatchObject({ alertRule: "WCUS-R2-Gen2", monitorCondition: "Resolved", targets: [] });
    const sample = golden("monitor/common-alert-schema-metric.json") as { data: Record<string, unknown> };
    const v2 = golden("monitor/alert-context-log-alerts-v2.json") as { alertContext: unknown };
    const log = parseCommonAlert({
      ...sample,
      data: {
        ...sample.data,
        essentials: {
          ...(sample.data.essentials as object),
          signalType: "Log",
          monitoringService: "Log Alerts V2",
          monitorCondition: "Fired",
        },
        alertContext: v2.alertContext,
      },
    });
    expect(log).toMatchObject({ monitorCondition: "Fired", monitoringService: "Log Alerts V2", targets: [] });
  });

  describe("the sandbox's Event Grid deliveries have the samples' shape", () => {
    const sb = useSandbox({ seed: "demo" });
    let hook: Server;
    let url = "";
    const received: Array<{ headers: IncomingMessage["headers"]; body: unknown }> = [];
    beforeAll(async () => {
      hook = createHttpServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
          received.push({ headers: req.headers, body });
          const code = Array.isArray(body) ? validationCodeOf(body[0]) : undefined;
          res.writeHead(200, { "Content-Type": "application/json" });
          res.end(code ? JSON.stringify({ validationResponse: code }) : "");
        });
      });
      await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/api/events`;
    });
    afterAll(() => new Promise<void>((r) => hook.close(() => r())));

    it("validation event and a Key Vault certificate event (NBF/EXP numbers: documented difference)", async () => {
      const h = sb();
      await h.eventGrid.subscribe({ endpointUrl: url, name: "golden" });
      await h.ctx.vault.createCertificate("golden-event-cert", {});
      await h.eventGrid.flush();
      const validation = received.find((r) => r.headers["aeg-event-type"] === "SubscriptionValidation");
      expectSameShape(golden("eventgrid/subscription-validation.json"), validation!.body);
      const event = received.find(
        (r) =>
          r.headers["aeg-event-type"] === "Notification" &&
          (r.body as Array<{ subject: string }>)[0]?.subject === "golden-event-cert",
      );
      const sample = golden("eventgrid/secret_new_version_created.eventgrid.json") as {
        data: Record<string, unknown>;
      };
      // The spec's sample carries NBF/EXP as strings; the event schema doc's table says number and
      // the service sends numbers (Azure/azure-sdk-for-net#22932, kv-monitor-functions.md §1.2).
      const asService = { ...sample, data: { ...sample.data, NBF: 0, EXP: 0 } };
      expectSameShape([asService], event!.body);
      expect(parseEvents(event!.body)[0]).toMatchObject({
        type: "Microsoft.KeyVault.CertificateNewVersionCreated",
        data: { objectType: "Certificate", objectName: "golden-event-cert" },
      });
    });
  });
});
