/**
 * remediateAlert with the secure-webhook check on: the bearer token is checked against the
 * tenant's signing keys at the authority (the sandbox's Entra), its audience, the Action Group
 * application and the ActionGroupsSecureWebhook role.
 */
import { describe, expect, it } from "vitest";
import { ACTION_GROUP_APP_ID } from "../../shared/remediation/auth.js";
import { useSandbox } from "../helpers/sandbox.js";
import { commonAlert, useServe } from "./serve-helpers.js";

const AUD = "api://rollover-alerts";
const sb = useSandbox({ seed: "demo", azurite: true });
const serve = useServe(sb, {
  settings: { ROLLOVER_ALERT_SECURE_WEBHOOK: "true", ROLLOVER_ALERT_WEBHOOK_AUDIENCES: AUD },
});

async function token(roles: string[], appid = ACTION_GROUP_APP_ID): Promise<string> {
  const h = sb();
  const t = h.urls.tenantId;
  const issued = await h.ctx.tokens.issue({
    aud: AUD,
    iss: `https://sts.windows.net/${t}/`,
    tid: t,
    oid: "5f1c0000-0000-4000-8000-0000000000ab",
    appid,
    roles,
    idtyp: "app",
  });
  return issued.token;
}

async function post(authorization?: string) {
  const s = serve();
  const res = await fetch(`${s.url}/api/alerts`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "x-functions-key": s.functionKey,
      ...(authorization ? { Authorization: authorization } : {}),
    },
    body: JSON.stringify(
      commonAlert({ "rollover-action": "rotate", "rollover-target": "payments-api" }, "Resolved"),
    ),
  });
  return { status: res.status, body: (await res.json()) as { error?: string; result?: string } };
}

describe("remediateAlert secure webhook", () => {
  it("accepts the Action Group's token and refuses others with 401", async () => {
    expect(await post(`Bearer ${await token(["ActionGroupsSecureWebhook"])}`)).toEqual({
      status: 200,
      body: expect.objectContaining({ result: "noChange" }),
    });
    const none = await post();
    expect(none.status).toBe(401);
    expect(none.body.error).toMatch(/missing bearer token/);
    const noRole = await post(`Bearer ${await token([])}`);
    expect(noRole.status).toBe(401);
    expect(noRole.body.error).toMatch(/ActionGroupsSecureWebhook/);
    const otherApp = await post(
      `Bearer ${await token(["ActionGroupsSecureWebhook"], "11111111-1111-4111-8111-111111111111")}`,
    );
    expect(otherApp.status).toBe(401);
  });
});
