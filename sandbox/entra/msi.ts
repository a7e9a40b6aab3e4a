/**
 * The App Service managed identity endpoint (what Azure Functions uses): `GET {IDENTITY_ENDPOINT}
 * ?resource=…&api-version=2019-08-01[&client_id=…|&principal_id=…|&mi_res_id=…]` with the
 * `X-IDENTITY-HEADER` secret. MSAL Node picks this source when IDENTITY_ENDPOINT and
 * IDENTITY_HEADER are both set (msal-node src/client/ManagedIdentitySources/AppService.ts: it
 * validates the URL but not its scheme, so https works) and reads `access_token`, `expires_on`
 * (epoch seconds, as a string or number), `resource`, `token_type`
 * (BaseManagedIdentitySource.getServerTokenResponse).
 */
import type { SandboxRequest, SandboxResponse } from "../http.js";
import { serviceError } from "../errors.js";
import type { SandboxContext } from "../types.js";
import { canonicalResource, GRAPH_RESOURCE, isoNoMillis } from "./resources.js";

export function msiTokenHandler(ctx: SandboxContext) {
  return async (req: SandboxRequest): Promise<SandboxResponse> => {
    const mi = ctx.managedIdentity;
    const tenantId = ctx.directory.defaultTenantId;
    const resourceParam = req.query.get("resource") ?? "";
    const fail = (status: number, error: string, message: string, errorCode?: number): SandboxResponse => {
      ctx.signIns.add({
        time: isoNoMillis(ctx.clock),
        tenantId,
        clientId: mi.clientId,
        objectId: mi.objectId,
        credentialType: "managedIdentity",
        resource: resourceParam,
        success: false,
        ...(errorCode !== undefined ? { errorCode } : {}),
      });
      return serviceError("msi", status, error, message, req.requestId);
    };
    const header = req.headers["x-identity-header"];
    if (typeof header !== "string" || header !== mi.header)
      return fail(
        401,
        "unauthorized_client",
        "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
      );
    const apiVersion = req.query.get("api-version");
    if (apiVersion !== "2019-08-01")
      return fail(
        400,
        "invalid_request",
        `api-version '${apiVersion ?? ""}' is not supported; use 2019-08-01.`,
      );
    if (!resourceParam) return fail(400, "invalid_request", "The 'resource' query parameter is required.");
    const clientId = req.query.get("client_id");
    const principalId = req.query.get("principal_id") ?? req.query.get("object_id");
    const resId = req.query.get("mi_res_id");
    if (
      (clientId && clientId.toLowerCase() !== mi.clientId.toLowerCase()) ||
      (principalId && principalId.toLowerCase() !== mi.objectId.toLowerCase()) ||
      (resId && !resId.toLowerCase().includes("/providers/microsoft.managedidentity/"))
    )
      return fail(
        400,
        "invalid_request",
        "No managed identity matches the requested identity on this resource.",
      );
    const aud = canonicalResource(ctx, tenantId, resourceParam.replace(/\/\.default$/, ""));
    if (!aud)
      return fail(
        400,
        "invalid_resource",
        `AADSTS500011: The resource principal named ${resourceParam} was not found in the tenant named ${tenantId}.`,
        500011,
      );
    const sp = ctx.directory.get(tenantId, mi.objectId);
    const roles = sp?.appRoles ?? [];
    const issued = await ctx.tokens.issue({
      aud,
      iss: `https://sts.windows.net/${tenantId}/`,
      tid: tenantId,
      oid: mi.objectId,
      sub: mi.objectId,
      appid: mi.clientId,
      appidacr: "2",
      xms_mirid:
        "/subscriptions/00000000-0000-4000-8000-000000000001/resourcegroups/rollover-sandbox/providers/Microsoft.Web/sites/rollover",
      // The directory's grants are Microsoft Graph app roles; only Graph tokens carry them.
      ...(roles.length > 0 && aud === GRAPH_RESOURCE ? { roles: [...roles] } : {}),
    });
    ctx.signIns.add({
      time: isoNoMillis(ctx.clock),
      tenantId,
      clientId: mi.clientId,
      objectId: mi.objectId,
      credentialType: "managedIdentity",
      resource: aud,
      success: true,
    });
    // `expires_on` in the client's frame (real time): MSAL computes expires_in = expires_on − its
    // own now, and the client's clock does not follow the virtual one (see jwt.ts).
    const expiresOn = issued.expiresOn - Math.round(ctx.clock.offset / 1000);
    return {
      status: 200,
      body: {
        access_token: issued.token,
        expires_on: String(expiresOn),
        resource: resourceParam,
        token_type: "Bearer",
        client_id: mi.clientId,
      },
    };
  };
}
