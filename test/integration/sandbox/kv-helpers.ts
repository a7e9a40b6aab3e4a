/**
 * Helpers for the Key Vault integration tests: a TokenCredential that returns real tokens the
 * sandbox's token service signs (what its Entra endpoint issues), and a raw HTTPS client for the
 * wire-level checks the SDKs hide.
 */
import { request } from "node:https";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import type { SandboxHandle } from "../../../sandbox/index.js";

export const VAULT_AUDIENCE = "https://vault.azure.net";

export interface Caller {
  oid: string;
  appid: string;
}

export const DEFAULT_CALLER: Caller = {
  oid: "0f6b4c7e-0000-4000-8000-00000000c0de",
  appid: "6d1c4f59-0000-4000-8000-00000000c0de",
};

export async function vaultToken(
  sb: () => SandboxHandle,
  caller: Caller = DEFAULT_CALLER,
  overrides: Record<string, unknown> = {},
): Promise<{ token: string; expiresOn: number }> {
  const { tenantId } = sb().urls;
  return sb().ctx.tokens.issue({
    aud: VAULT_AUDIENCE,
    iss: `https://sts.windows.net/${tenantId}/`,
    tid: tenantId,
    oid: caller.oid,
    appid: caller.appid,
    ...overrides,
  });
}

/** A credential handing out sandbox-signed access tokens for Key Vault; counts its calls. */
export function sandboxCredential(
  sb: () => SandboxHandle,
  caller: Caller = DEFAULT_CALLER,
): TokenCredential & { calls: Array<{ scopes: string[]; tenantId?: string }> } {
  const calls: Array<{ scopes: string[]; tenantId?: string }> = [];
  return {
    calls,
    async getToken(scopes, options): Promise<AccessToken> {
      calls.push({
        scopes: Array.isArray(scopes) ? scopes : [scopes],
        ...(options?.tenantId ? { tenantId: options.tenantId } : {}),
      });
      const t = await vaultToken(sb, caller);
      return { token: t.token, expiresOnTimestamp: t.expiresOn * 1000 };
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => { error?: { code: string; message: string; innererror?: { code: string } } } & Record<
    string,
    unknown
  >;
}

export function raw(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? "GET", headers: init.headers ?? {} }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body),
        }),
      );
    });
    req.on("error", reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}
