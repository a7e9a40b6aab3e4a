/**
 * GraphEdge.getTargets: the reads getTarget makes, sent 20 to a Graph JSON batch, with the real
 * Graph client against the sandbox. Each inner request is authorized and throttled on its own
 * (learn.microsoft.com/graph/json-batching), so one batch can answer 200, 404, 403 and 429 at once.
 */
import { randomUUID } from "node:crypto";
import { ClientSecretCredential, ManagedIdentityCredential } from "@azure/identity";
import type { Client } from "@microsoft/microsoft-graph-client";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { configureGraphThrottling, DEFAULT_GRAPH_THROTTLE_LIMITS } from "../../../sandbox/graph/index.js";
import { GraphEdge, type TargetRef } from "../../../shared/azure/graph.js";
import { makeCert } from "../../helpers/certs.js";
import { useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox({ seed: "empty" });

describe("GraphEdge.getTargets: one $batch per 20 reads", () => {
  let refs: TargetRef[];
  let gone: string;
  let thumbprint: string;

  function client(graph: GraphEdge): Client {
    const h = sb();
    useSandboxIdentity(h);
    return graph.client(new ManagedIdentityCredential({ clientId: h.ctx.managedIdentity.clientId }));
  }

  beforeAll(async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const dir = h.ctx.directory;
    const keyed = dir.createApplication(t, { displayName: "keyed" });
    const cert = await makeCert({ subject: "CN=keyed" });
    thumbprint = cert.sha1Hex.toUpperCase();
    dir.addKeyCredential(t, keyed.id, { certificateDer: cert.der, displayName: "keyed" });
    dir.addPasswordCredential(t, keyed.id, { endDateTime: new Date(Date.now() + 86_400_000).toISOString() });
    const plain = dir.createApplication(t, { displayName: "plain" });
    const blueprint = dir.createApplication(t, { displayName: "blueprint", kind: "agentIdentityBlueprint" });
    const spOf = (appId: string) => dir.findByAppId(t, appId, "servicePrincipal")!.id;
    gone = randomUUID();
    refs = [
      { type: "application", id: keyed.id },
      { type: "servicePrincipal", id: spOf(keyed.appId) },
      { type: "application", id: gone },
      { type: "agentIdentityBlueprint", id: blueprint.id },
      { type: "application", id: plain.id },
      { type: "servicePrincipal", id: spOf(plain.appId) },
    ];
  });

  afterEach(() => {
    configureGraphThrottling(sb().ctx, DEFAULT_GRAPH_THROTTLE_LIMITS);
  });

  it("returns what getTarget returns for each ref, in order, undefined for one that is gone, in one request", async () => {
    const h = sb();
    const graph = new GraphEdge(h.urls.graphBaseUrl);
    const c = client(graph);
    const one = [];
    for (const r of refs) one.push(await graph.getTarget(c, h.urls.tenantId, r.type, r.id));
    h.requestCounts.reset();
    const many = await graph.getTargets(c, h.urls.tenantId, refs);
    expect(h.requestCounts.get().graph).toBe(1);
    // A batch of reads writes nothing.
    expect(h.requestCounts.get()["graph:write"] ?? 0).toBe(0);
    expect(many).toEqual(one);
    expect(many[2]).toBeUndefined();
    expect(many.filter((t) => t !== undefined)).toHaveLength(refs.length - 1);
    expect(many[3]?.type).toBe("agentIdentityBlueprint");
    // Each inner request is a single-object read: `key` comes back, and with it the thumbprint.
    expect(many[0]?.keyCredentials.map((k) => k.thumbprint)).toEqual([thumbprint]);
    expect(many[0]?.passwordCredentials).toHaveLength(1);
    expect(await graph.getTargets(c, h.urls.tenantId, [])).toEqual([]);
  });

  it("sends one batch per 20 refs", async () => {
    const h = sb();
    const graph = new GraphEdge(h.urls.graphBaseUrl);
    const c = client(graph);
    const many = Array.from({ length: 45 }, (_, i) => refs[i % refs.length]!);
    h.requestCounts.reset();
    const got = await graph.getTargets(c, h.urls.tenantId, many);
    expect(h.requestCounts.get().graph).toBe(3);
    expect(got).toHaveLength(45);
    expect(got.map((t) => t?.id)).toEqual(many.map((r) => (r.id === gone ? undefined : r.id)));
  });

  it("sends inner 429s again after their own Retry-After, and only those", async () => {
    const h = sb();
    const waits: number[] = [];
    const graph = new GraphEdge(h.urls.graphBaseUrl, async (ms) => {
      waits.push(ms);
      await h.ctx.clock.advance(ms);
    });
    const c = client(graph);
    const expected = await graph.getTargets(c, h.urls.tenantId, refs);
    // Four reads per 10 s: four of the six inner reads get through, two get 429.
    configureGraphThrottling(h.ctx, { resourceUnitsPer10s: 4 });
    h.requestCounts.reset();
    const got = await graph.getTargets(c, h.urls.tenantId, refs);
    expect(got).toEqual(expected);
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((ms) => ms >= 1000)).toBe(true);
    // The first batch, then batches of the throttled reads alone (one to three of them).
    expect(h.requestCounts.get().graph).toBe(1 + waits.length);
  });

  it("throws the GraphError getTarget throws, naming the object: a 429 past the retries, a 403", async () => {
    const h = sb();
    const t = h.urls.tenantId;
    const graph = new GraphEdge(h.urls.graphBaseUrl, async () => {});
    const c = client(graph);
    configureGraphThrottling(h.ctx, { resourceUnitsPer10s: 1 });
    const throttled = graph.getTargets(c, t, refs.slice(0, 2));
    await expect(throttled).rejects.toMatchObject({ statusCode: 429, code: "TooManyRequests" });
    // Which of the two is throttled depends on what the bucket still held: the one named is one of them.
    await expect(throttled).rejects.toThrow(
      new RegExp(`^(application ${refs[0]!.id}|servicePrincipal ${refs[1]!.id}): `),
    );
    configureGraphThrottling(h.ctx, DEFAULT_GRAPH_THROTTLE_LIMITS);

    // A caller that may read blueprints only: the application's read is refused on its own.
    const reader = h.ctx.directory.createApplication(t, { displayName: "blueprint-reader" });
    const sp = h.ctx.directory.findByAppId(t, reader.appId, "servicePrincipal")!;
    h.ctx.directory.grantAppRole(t, sp.id, "AgentIdentityBlueprint.Read.All");
    const pw = h.ctx.directory.addPasswordCredential(t, reader.id, {
      endDateTime: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const narrow = graph.client(
      new ClientSecretCredential(t, reader.appId, pw.secretText!, {
        authorityHost: h.urls.authorityHost,
        disableInstanceDiscovery: true,
      }),
    );
    const app = refs[4]!;
    const single = await graph.getTarget(narrow, t, app.type, app.id).catch((e: unknown) => e);
    expect(single).toMatchObject({ statusCode: 403 });
    const blueprint = refs[3]!;
    const batched = await graph.getTargets(narrow, t, [blueprint, app]).catch((e: unknown) => e);
    expect(batched).toMatchObject({
      statusCode: 403,
      code: (single as { code: string }).code,
      constructor: (single as object).constructor,
    });
    expect((batched as Error).message).toContain(app.id);
  });
});
