/**
 * remediateAlert (HTTP POST, route `alerts`, function key): an Azure Monitor alert in the common
 * alert schema → rotate a binding now, or sweep one object. With ROLLOVER_ALERT_SECURE_WEBHOOK on,
 * the Action Group's secure-webhook bearer token is checked first.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { oneLine } from "../shared/text.js";
import { AlertParseError, parseCommonAlert } from "../shared/remediation/alert.js";
import { checkSecureWebhook, WebhookAuthError } from "../shared/remediation/auth.js";
import { remediate } from "../shared/remediation/remediate.js";
import { errorSummary } from "../shared/errors.js";
import { rolloverFor, type Runtime, runClock, withRun } from "./runtime.js";
import { contextLogger } from "../shared/log.js";
import { bodyTooLarge, declaresTooLarge, HttpError, MAX_BODY_BYTES, parseJsonBody } from "./http-body.js";

function reply(status: number, error: string): HttpResponseInit {
  return { status, jsonBody: { error: oneLine(error) } };
}

export function remediateAlertHandler(rt: Runtime) {
  return async (req: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const config = rolloverFor(rt).config;
    if (config.alertSecureWebhook) {
      try {
        await checkSecureWebhook(req.headers.get("authorization"), {
          tenantId: config.tenantId!,
          authorityHost: config.authorityHost,
          audiences: config.alertWebhookAudiences ?? [],
          actionGroupAppId: config.alertActionGroupAppId,
          now: await runClock(rt),
        });
      } catch (e) {
        if (e instanceof WebhookAuthError) return reply(401, e.message);
        throw e;
      }
    }
    let body: unknown;
    try {
      if (declaresTooLarge(req.headers.get("content-length"))) throw bodyTooLarge();
      const text = await req.text();
      if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw bodyTooLarge();
      body = parseJsonBody(text, "an alert in the common alert schema");
    } catch (e) {
      if (e instanceof HttpError) return reply(e.status, e.message);
      throw e;
    }
    let alert: ReturnType<typeof parseCommonAlert>;
    try {
      alert = parseCommonAlert(body);
    } catch (e) {
      if (e instanceof AlertParseError) return reply(400, e.message);
      throw e;
    }
    try {
      const out = await withRun(rt, { trigger: "alert", runId: context.invocationId }, (run) =>
        remediate(alert, {
          vaults: run.rollover.vaults,
          audit: run.audit,
          reconcile: (ref) => run.engine.reconcile(ref),
          sweepDeps: run.sweepDeps,
          readTarget: async (id, types, tenantId) => {
            const r = run.rollover;
            const tid = tenantId ?? r.config.tenantId!;
            const client = r.graph.client(r.credential);
            for (const t of types) {
              const found = await r.graph.getTarget(client, tid, t, id);
              if (found) return found;
            }
            return undefined;
          },
        }),
      );
      contextLogger(context).info(
        `remediateAlert: ${out.body.result} (${out.body.reason}) ${out.body.message}`,
      );
      return {
        status: out.status,
        jsonBody: out.status >= 400 ? { error: oneLine(out.body.message), ...out.body } : out.body,
        ...(out.status === 503 ? { headers: { "Retry-After": "20" } } : {}),
      };
    } catch (e) {
      // Key Vault, Graph or storage failed: the Action Group retries 503.
      const why = errorSummary(e);
      contextLogger(context).error(`remediateAlert failed: ${why}`);
      return {
        status: 503,
        headers: { "Retry-After": "20" },
        jsonBody: { error: `remediation failed: ${oneLine(why)}` },
      };
    }
  };
}
