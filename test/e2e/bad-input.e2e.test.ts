/**
 * Bad input at every HTTP entry point of serve (the Event Grid webhook, remediateAlert, the admin
 * route): empty body, invalid JSON, wrong schema, 1 MB of junk, missing or wrong key → 4xx with a
 * one-line reason, and nothing changes in Key Vault, the directory or the audit trail.
 */
import { describe, expect, it } from "vitest";
import type { SandboxHandle } from "../../sandbox/index.js";
import { useSandbox } from "../helpers/sandbox.js";
import { auditRecords, commonAlert, useServe } from "./serve-helpers.js";

const sb = useSandbox({ seed: "demo", azurite: true });
const serve = useServe(sb);

const JUNK = "x".repeat(1024 * 1024);
const HUGE = "y".repeat(1024 * 1024 + 1);

interface Case {
  name: string;
  method?: string;
  path: (key: string) => string;
  headers?: Record<string, string>;
  body?: string;
  /** header: the function key; master: the master key (admin routes). */
  key?: "header" | "master" | "none" | "wrong";
  status: number;
}

const webhook = (key: string) =>
  `/runtime/webhooks/eventgrid?functionName=keyVaultEvents&code=${encodeURIComponent(key)}`;
const webhookNoKey = () => "/runtime/webhooks/eventgrid?functionName=keyVaultEvents";
const notification = { "Content-Type": "application/json", "aeg-event-type": "Notification" };
const alerts = () => "/api/alerts";
const adminReconcile = () => "/admin/functions/reconcile";

const CASES: Case[] = [
  // Event Grid webhook
  { name: "webhook: empty body", path: webhook, headers: notification, body: "", status: 400 },
  { name: "webhook: invalid JSON", path: webhook, headers: notification, body: "[{", status: 400 },
  {
    name: "webhook: wrong schema (object)",
    path: webhook,
    headers: notification,
    body: '{"hello":"world"}',
    status: 400,
  },
  {
    name: "webhook: wrong schema (array of numbers)",
    path: webhook,
    headers: notification,
    body: "[1,2]",
    status: 400,
  },
  { name: "webhook: empty array", path: webhook, headers: notification, body: "[]", status: 400 },
  {
    name: "webhook: CloudEvent with the wrong specversion",
    path: webhook,
    headers: notification,
    body: JSON.stringify([{ id: "1", source: "/x", specversion: "0.3", type: "t" }]),
    status: 400,
  },
  { name: "webhook: 1 MB of junk", path: webhook, headers: notification, body: JUNK, status: 400 },
  { name: "webhook: more than 1 MB", path: webhook, headers: notification, body: HUGE, status: 413 },
  {
    name: "webhook: missing key",
    path: webhookNoKey,
    headers: notification,
    body: "[]",
    key: "none",
    status: 401,
  },
  {
    name: "webhook: wrong key",
    path: webhookNoKey,
    headers: notification,
    body: "[]",
    key: "wrong",
    status: 401,
  },
  {
    name: "webhook: no aeg-event-type",
    path: webhook,
    headers: { "Content-Type": "application/json" },
    body: "[]",
    status: 400,
  },
  {
    name: "webhook: validation without a code",
    path: webhook,
    headers: { "Content-Type": "application/json", "aeg-event-type": "SubscriptionValidation" },
    body: JSON.stringify([
      { id: "1", eventType: "Microsoft.EventGrid.SubscriptionValidationEvent", data: {} },
    ]),
    status: 400,
  },
  {
    name: "webhook: unknown function",
    path: (k) => `/runtime/webhooks/eventgrid?functionName=nope&code=${encodeURIComponent(k)}`,
    headers: notification,
    body: "[]",
    status: 404,
  },
  { name: "webhook: OPTIONS without WebHook-Request-Origin", method: "OPTIONS", path: webhook, status: 400 },
  // remediateAlert
  { name: "alerts: empty body", path: alerts, body: "", key: "header", status: 400 },
  { name: "alerts: invalid JSON", path: alerts, body: "{", key: "header", status: 400 },
  {
    name: "alerts: wrong schema",
    path: alerts,
    body: '{"schemaId":"Microsoft.Insights/activityLogs"}',
    key: "header",
    status: 400,
  },
  { name: "alerts: not an object", path: alerts, body: '"rotate"', key: "header", status: 400 },
  {
    name: "alerts: no essentials",
    path: alerts,
    body: '{"schemaId":"azureMonitorCommonAlertSchema","data":{}}',
    key: "header",
    status: 400,
  },
  {
    name: "alerts: unknown rollover-action",
    path: alerts,
    body: JSON.stringify(
      commonAlert({ "rollover-action": "delete-everything", "rollover-target": "payments-api" }),
    ),
    key: "header",
    status: 400,
  },
  {
    name: "alerts: no rollover-action",
    path: alerts,
    body: JSON.stringify(commonAlert({})),
    key: "header",
    status: 400,
  },
  { name: "alerts: 1 MB of junk", path: alerts, body: JUNK, key: "header", status: 400 },
  { name: "alerts: more than 1 MB", path: alerts, body: HUGE, key: "header", status: 413 },
  {
    name: "alerts: missing key",
    path: alerts,
    body: JSON.stringify(commonAlert({ "rollover-action": "rotate", "rollover-target": "payments-api" })),
    key: "none",
    status: 401,
  },
  {
    name: "alerts: wrong key",
    path: alerts,
    body: JSON.stringify(commonAlert({ "rollover-action": "rotate", "rollover-target": "payments-api" })),
    key: "wrong",
    status: 401,
  },
  { name: "alerts: GET", method: "GET", path: alerts, key: "header", status: 405 },
  // admin: run a function now
  { name: "admin: empty body", path: adminReconcile, body: "", key: "master", status: 400 },
  { name: "admin: invalid JSON", path: adminReconcile, body: "{", key: "master", status: 400 },
  { name: "admin: wrong schema", path: adminReconcile, body: "[]", key: "master", status: 400 },
  { name: "admin: 1 MB of junk", path: adminReconcile, body: JUNK, key: "master", status: 400 },
  { name: "admin: missing key", path: adminReconcile, body: "{}", key: "none", status: 401 },
  // The admin API takes the master key only, as the Functions host does.
  { name: "admin: the function key", path: adminReconcile, body: "{}", key: "header", status: 401 },
  {
    name: "admin: unknown function",
    path: () => "/admin/functions/nope",
    body: "{}",
    key: "master",
    status: 404,
  },
  {
    name: "admin: queue function without input",
    path: () => "/admin/functions/sweepPage",
    body: "{}",
    key: "master",
    status: 400,
  },
];

function fingerprint(h: SandboxHandle): string {
  const t = h.urls.tenantId;
  const certs = h.ctx.vault.certificateNames().map((n) => `${n}:${h.ctx.vault.versions(n).length}`);
  const objects = [
    "a1000000-0000-4000-8000-000000000001",
    "a1000000-0000-4000-8000-000000000002",
    "a1000000-0000-4000-8000-000000000003",
    "a1000000-0000-4000-8000-000000000004",
  ].map((id) => {
    const o = h.ctx.directory.get(t, id);
    return `${id}:${o?.keyCredentials.map((k) => k.keyId).join(",")}:${o?.passwordCredentials.length}`;
  });
  return JSON.stringify({ certs, objects });
}

describe("bad input at every HTTP entry point → 4xx, one line, no change", () => {
  it.each(CASES)("$name → $status", async (c) => {
    const h = sb();
    const s = serve();
    const before = fingerprint(h);
    const auditBefore = auditRecords(h).length;
    const headers: Record<string, string> = { ...(c.headers ?? { "Content-Type": "application/json" }) };
    if (c.key === "header") headers["x-functions-key"] = s.functionKey;
    if (c.key === "master") headers["x-functions-key"] = s.masterKey;
    if (c.key === "wrong") headers["x-functions-key"] = `${s.functionKey}x`;
    const method = c.method ?? "POST";
    const res = await fetch(`${s.url}${c.path(s.functionKey)}`, {
      method,
      headers,
      ...(c.body !== undefined && method !== "GET" ? { body: c.body } : {}),
    });
    const text = await res.text();
    expect(res.status).toBe(c.status);
    const body = JSON.parse(text) as { error: string };
    expect(body.error).toMatch(/^[^\n]{3,300}$/);
    expect(text).not.toContain(s.functionKey);
    expect(text).not.toContain(s.masterKey);
    expect(fingerprint(h)).toBe(before);
    // Nothing was acted on (a rejected alert may leave its one `alert` record, nothing else).
    const added = auditRecords(h).slice(auditBefore);
    expect(added.filter((r) => r.Action !== "alert")).toEqual([]);
  });
});

describe("the admin route runs a function now", () => {
  it("POST /admin/functions/flushAudit with {} → 202", async () => {
    const s = serve();
    const res = await fetch(`${s.url}/admin/functions/flushAudit`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "x-functions-key": s.masterKey },
      body: "{}",
    });
    expect(res.status).toBe(202);
  });
});
