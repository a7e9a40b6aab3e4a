/**
 * One application, service principal, agent identity blueprint or agent identity: read
 * (application-get.md, serviceprincipal-get.md), create (application-post-applications.md,
 * serviceprincipal-post-serviceprincipals.md, agentidentityblueprint-post.md, agentidentity-post.md),
 * update (application-update.md) and delete (application-delete.md).
 */
import { randomUUID } from "node:crypto";
import type { SandboxResponse } from "../http.js";
import type { SandboxContext } from "../types.js";
import {
  APPLICATION_WRITE_ROLES,
  applicationWriter,
  type Caller,
  canRead,
  canWrite,
  charge,
  denied,
  hasAny,
} from "./auth.js";
import { lagged, readLag } from "./consistency.js";
import { parseKeyCredentials } from "./credentials.js";
import type { DirObject } from "./directory.js";
import { GraphError } from "./graph-error.js";
import { type Collection, objectJson } from "./model.js";
import {
  base,
  castSegment,
  contextUrl,
  type GraphRequest,
  notFound,
  ok,
  requireJson,
  selectOf,
  withSelect,
} from "./odata.js";
import { enforceKeyCredential } from "./policies.js";
import { graphState } from "./state.js";
import type { CollectionRoute } from "./routes.js";

export function getOne(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  collection: Collection,
  o: DirObject,
  cast: string | undefined,
): SandboxResponse {
  if (!canRead(c, o)) throw denied();
  const select = selectOf(collection, g.query.get("$select"));
  const headers = charge(ctx, g, c, {});
  const seen = readLag(ctx, g)(o);
  if (seen.deleted) throw notFound(o.id);
  return ok(
    {
      "@odata.context": contextUrl(
        ctx,
        g,
        `${withSelect(`${collection}${castSegment(cast)}`, select)}/$entity`,
      ),
      ...objectJson(seen, select),
    },
    headers,
  );
}

const PATCHABLE = new Set([
  "displayName",
  "keyCredentials",
  "description",
  "notes",
  "tags",
  "identifierUris",
]);

export function patch(ctx: SandboxContext, g: GraphRequest, c: Caller, o: DirObject): SandboxResponse {
  const body = requireJson(g);
  if (!canWrite(c, o, "keyCredentials" in body)) throw denied();
  const headers = charge(ctx, g, c, { write: true });
  const dir = graphState(ctx).dir;
  for (const key of Object.keys(body)) {
    if (key.startsWith("@odata.")) continue;
    if (key === "passwordCredentials")
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Using PATCH to set passwordCredential is not supported. Use addPassword and removePassword actions.",
      );
    if (!PATCHABLE.has(key))
      throw new GraphError(
        400,
        "Request_BadRequest",
        `Property '${key}' is read-only or not supported by the sandbox.`,
      );
  }
  let keyCredentials: DirObject["keyCredentials"] | undefined;
  if ("keyCredentials" in body) {
    if (o.kind === "agentIdentity")
      throw new GraphError(
        400,
        "PropertyNotCompatibleWithAgentIdentity",
        "Agent identities hold no credentials of their own; set keyCredentials on the agent identity blueprint.",
      );
    keyCredentials = parseKeyCredentials(dir, o, body.keyCredentials);
    // Only credentials the PATCH adds are checked; kept ones were allowed when they were added.
    for (const k of keyCredentials)
      if (!o.keyCredentials.some((x) => x.keyId === k.keyId))
        enforceKeyCredential(ctx, o, k.startDateTime, k.endDateTime);
  }
  lagged(ctx, o, () => {
    if (keyCredentials) o.keyCredentials = keyCredentials;
    if (typeof body.displayName === "string") o.displayName = body.displayName;
    dir.touch(
      o,
      Object.keys(body).filter((k) => !k.startsWith("@odata.")),
    );
  });
  return { status: 204, headers: { ...headers } };
}

export function remove(ctx: SandboxContext, g: GraphRequest, c: Caller, o: DirObject): SandboxResponse {
  if (!canWrite(c, o)) throw denied();
  const headers = charge(ctx, g, c, { write: true });
  lagged(ctx, o, () => graphState(ctx).dir.delete(c.tenantId, o.id));
  return { status: 204, headers };
}

export const create: CollectionRoute = (ctx, g, c, collection, cast) => {
  const body = requireJson(g);
  const dir = graphState(ctx).dir;
  const typeHint = String(body["@odata.type"] ?? "").toLowerCase();
  if (collection === "applications") {
    const blueprint = cast === "agentIdentityBlueprint" || typeHint.endsWith("agentidentityblueprint");
    const allowed =
      hasAny(c, APPLICATION_WRITE_ROLES) ||
      (blueprint && hasAny(c, ["AgentIdentityBlueprint.Create", "AgentIdentityBlueprint.ReadWrite.All"]));
    if (!allowed) throw denied();
    if (typeof body.displayName !== "string" || !body.displayName)
      throw new GraphError(400, "Request_BadRequest", "Property 'displayName' is required.");
    const headers = charge(ctx, g, c, { write: true });
    const o = dir.createApplicationObject(c.tenantId, {
      displayName: body.displayName,
      kind: blueprint ? "agentIdentityBlueprint" : "application",
      withServicePrincipal: false,
    });
    // The creating principal becomes an owner (Application.ReadWrite.OwnedBy semantics).
    dir.addOwner(c.tenantId, o.id, c.oid);
    if (body.keyCredentials !== undefined) {
      const next = parseKeyCredentials(dir, o, body.keyCredentials);
      for (const k of next) enforceKeyCredential(ctx, o, k.startDateTime, k.endDateTime);
      o.keyCredentials = next;
    }
    const castPath = blueprint ? "/microsoft.graph.agentIdentityBlueprint" : "";
    return ok(
      {
        "@odata.context": contextUrl(ctx, g, `applications${castPath}/$entity`),
        ...objectJson(o, undefined),
      },
      {
        ...headers,
        Location: `${base(ctx, g)}/applications/${o.id}`,
      },
      201,
    );
  }
  const agent = cast === "agentIdentity" || typeHint.endsWith("agentidentity");
  const headers = () => charge(ctx, g, c, { write: true });
  if (agent) {
    const bp = String(body.agentIdentityBlueprintId ?? "").toLowerCase();
    const blueprint = dir.application(c.tenantId, bp);
    if (blueprint?.kind !== "agentIdentityBlueprint")
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Property 'agentIdentityBlueprintId' must name an agent identity blueprint's appId.",
      );
    if (c.appid !== bp && !hasAny(c, ["AgentIdentity.ReadWrite.All", "AgentIdentity.Create.All"]))
      throw denied();
    const h = headers();
    const id = randomUUID();
    const o = dir.createServicePrincipalObject(c.tenantId, {
      appId: id,
      id,
      displayName: typeof body.displayName === "string" ? body.displayName : id,
      kind: "agentIdentity",
      blueprintAppId: bp,
    });
    return ok(
      {
        "@odata.context": contextUrl(ctx, g, "servicePrincipals/microsoft.graph.agentIdentity/$entity"),
        ...objectJson(o, undefined),
      },
      h,
      201,
    );
  }
  if (!hasAny(c, APPLICATION_WRITE_ROLES)) throw denied();
  const appId = String(body.appId ?? "").toLowerCase();
  const app = dir.application(c.tenantId, appId);
  if (!app)
    throw new GraphError(
      400,
      "Request_BadRequest",
      `The appId '${appId}' of the service principal does not reference a valid application object.`,
    );
  if (!applicationWriter(c, app)) throw denied();
  const h = headers();
  const o = dir.createServicePrincipalObject(c.tenantId, {
    appId,
    kind:
      cast === "agentIdentityBlueprintPrincipal" || app.kind === "agentIdentityBlueprint"
        ? "agentIdentityBlueprintPrincipal"
        : "servicePrincipal",
  });
  return ok(
    { "@odata.context": contextUrl(ctx, g, "servicePrincipals/$entity"), ...objectJson(o, undefined) },
    h,
    201,
  );
};
