/**
 * Small edges of the trust boundary: a verify that is still retrying stops when the binding's
 * lease is lost, and an error summary keeps the service's own message (redacted), so a 403 says
 * which permission was missing.
 */
import type { TokenCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { verifyCredential } from "../../../shared/azure/entra.js";
import { errorSummary } from "../../../shared/errors.js";

describe("verify and a lost lease", () => {
  it("stops retrying at once when the lease's signal aborts", async () => {
    const controller = new AbortController();
    let calls = 0;
    const credential: TokenCredential = {
      async getToken() {
        calls += 1;
        // Entra has not replicated the key yet: retryable.
        throw new Error("AADSTS700027: Client assertion contains an invalid signature.");
      },
    };
    const sleep = async () => {
      controller.abort(new Error("lease on kv/cert lost"));
    };
    await expect(
      verifyCredential(credential, "https://graph.microsoft.com/.default", 300_000, sleep, controller.signal),
    ).rejects.toThrow(/lease on kv\/cert lost/);
    expect(calls).toBe(1);
  });
});

describe("errorSummary", () => {
  it("keeps the service's message, so a 403 names the missing permission", () => {
    const e = Object.assign(
      new Error(
        "Caller is not authorized to perform action on resource.\r\nAction: 'Microsoft.KeyVault/vaults/certificates/create/action'",
      ),
      { statusCode: 403, code: "Forbidden" },
    );
    expect(errorSummary(e)).toBe(
      "HTTP 403 Forbidden: Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/certificates/create/action'",
    );
    const withAction = Object.assign(
      new Error(
        "Operation sign is not permitted on this key. Missing Microsoft.KeyVault/vaults/keys/sign/action",
      ),
      { statusCode: 403, code: "Forbidden" },
    );
    expect(errorSummary(withAction)).toMatch(/keys\/sign\/action/);
  });

  it("redacts secrets and tokens in the message", () => {
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    const e = Object.assign(
      new Error(`bad request with Bearer ${jwt} and client_secret=abc8Q~defghijklmnopqrstuvwxyz012345`),
      {
        statusCode: 400,
      },
    );
    const s = errorSummary(e);
    expect(s).toMatch(/^HTTP 400: /);
    expect(s).not.toContain(jwt);
    expect(s).not.toMatch(/8Q~/);
  });
});
