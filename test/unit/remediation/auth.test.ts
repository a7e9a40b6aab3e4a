/**
 * The secure-webhook check: tokens signed with a local key (the check takes the signing keys as
 * a JWKS), with the claims an Action Group's token carries.
 */
import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ACTION_GROUP_APP_ID,
  checkSecureWebhook,
  type SecureWebhookSettings,
  WebhookAuthError,
} from "../../../shared/remediation/auth.js";

const TENANT = "72f988bf-0000-4000-8000-00000000a11c";
const AUD = "api://72f988bf-0000-4000-8000-00000000a11c/rollover-alerts";
const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
let settings: SecureWebhookSettings;
let sign: (claims: Record<string, unknown>, exp?: number) => Promise<string>;
let otherSign: (claims: Record<string, unknown>) => Promise<string>;
let custom: (alg: string, claims: Record<string, unknown>, withExp?: boolean) => Promise<string>;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const rs512Key = await importJWK(await exportJWK(privateKey), "RS512");
  const other = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  settings = {
    tenantId: TENANT,
    authorityHost: "https://login.microsoftonline.com",
    audiences: [AUD, "0b1e7c4a-0000-4000-8000-000000000001"],
    actionGroupAppId: ACTION_GROUP_APP_ID,
    now: () => NOW,
    keys: createLocalJWKSet({ keys: [jwk] }),
  };
  const base = (c: Record<string, unknown>) => ({
    iss: `https://sts.windows.net/${TENANT}/`,
    aud: AUD,
    appid: ACTION_GROUP_APP_ID,
    roles: ["ActionGroupsSecureWebhook"],
    tid: TENANT,
    ...c,
  });
  sign = (c, exp = NOW / 1000 + 3600) =>
    new SignJWT(base(c))
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuedAt(NOW / 1000 - 60)
      .setExpirationTime(exp)
      .sign(privateKey);
  // The same key pair, with another header algorithm (RS512), or no signature at all (`none`).
  custom = async (alg, c, withExp = true) => {
    // alg: "none" or "RS512"
    const claims = { ...base(c), iat: NOW / 1000 - 60, ...(withExp ? { exp: NOW / 1000 + 3600 } : {}) };
    if (alg === "none") {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
      return `${enc({ alg: "none", kid: "k1" })}.${enc(claims)}.`;
    }
    return new SignJWT(claims)
      .setProtectedHeader({ alg, kid: "k1" })
      .sign(alg === "RS512" ? rs512Key : privateKey);
  };
  otherSign = (c) =>
    new SignJWT(base(c))
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setExpirationTime(NOW / 1000 + 3600)
      .sign(other.privateKey);
});

async function reason(header: string | undefined): Promise<string> {
  try {
    await checkSecureWebhook(header, settings);
    return "accepted";
  } catch (e) {
    expect(e).toBeInstanceOf(WebhookAuthError);
    const m = (e as Error).message;
    expect(m).not.toMatch(/eyJ/); // never the token
    return m;
  }
}

describe("secure webhook bearer check", () => {
  it("accepts the Action Group's v1 token, and a v2 token for the client id", async () => {
    expect(await reason(`Bearer ${await sign({})}`)).toBe("accepted");
    expect(
      await reason(
        `Bearer ${await sign({
          iss: `https://login.microsoftonline.com/${TENANT}/v2.0`,
          aud: "0b1e7c4a-0000-4000-8000-000000000001",
          appid: undefined,
          azp: ACTION_GROUP_APP_ID,
        })}`,
      ),
    ).toBe("accepted");
  });

  it.each([
    ["no header", async () => undefined, /missing bearer token/],
    ["not a bearer", async () => "Basic abc", /missing bearer token/],
    ["garbage", async () => "Bearer not-a-jwt", /not a valid token/],
    [
      "another audience",
      async () => `Bearer ${await sign({ aud: "api://other" })}`,
      /claim check failed \(aud\)/,
    ],
    [
      "another tenant's issuer",
      async () =>
        `Bearer ${await sign({ iss: "https://sts.windows.net/00000000-0000-0000-0000-000000000000/" })}`,
      /claim check failed \(iss\)/,
    ],
    ["expired", async () => `Bearer ${await sign({}, NOW / 1000 - 3600)}`, /expired/],
    ["another signer", async () => `Bearer ${await otherSign({})}`, /signature/],
    [
      "another application",
      async () => `Bearer ${await sign({ appid: "11111111-1111-1111-1111-111111111111" })}`,
      /not issued to the Azure Monitor Action Group/,
    ],
    ["no role", async () => `Bearer ${await sign({ roles: [] })}`, /no ActionGroupsSecureWebhook role/],
    // Trust boundary: the algorithm is pinned, exp is required, nbf and tid are checked.
    ["an RS512 token (same key)", async () => `Bearer ${await custom("RS512", {})}`, /not RS256/],
    [
      "an unsigned (alg none) token",
      async () => `Bearer ${await custom("none", {})}`,
      /not (RS256|a valid token)/,
    ],
    [
      "a token without exp",
      async () => `Bearer ${await custom("RS256", {}, false)}`,
      /claim check failed \(exp\)/,
    ],
    [
      "a token not valid yet (nbf)",
      async () => `Bearer ${await sign({ nbf: NOW / 1000 + 3600 })}`,
      /claim check failed \(nbf\)/,
    ],
    [
      "a token of another tenant (tid)",
      async () => `Bearer ${await sign({ tid: "00000000-0000-0000-0000-000000000000" })}`,
      /another tenant/,
    ],
  ])("rejects %s", async (_n, header, why) => {
    expect(await reason(await header())).toMatch(why);
  });

  it("refuses everything when no audience is configured", async () => {
    const token = await sign({});
    await expect(checkSecureWebhook(`Bearer ${token}`, { ...settings, audiences: [] })).rejects.toThrow(
      /ROLLOVER_ALERT_WEBHOOK_AUDIENCES/,
    );
  });
});
