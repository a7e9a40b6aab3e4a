/**
 * An object's owners: list them (application-list-owners.md), add one
 * (`POST …/owners/$ref`, application-post-owners.md) and remove one
 * (`DELETE …/owners/{id}/$ref`, application-delete-owners.md). Owners are what
 * Application.ReadWrite.OwnedBy reaches (auth.ts, `applicationWriter`).
 */
import { canRead, canWrite, charge, denied } from "./auth.js";
import { APPLICATION_KINDS } from "./directory.js";
import { GraphError } from "./graph-error.js";
import { ODATA_TYPES, objectJson } from "./model.js";
import { contextUrl, methodNotAllowed, notFound, ok, requireJson } from "./odata.js";
import type { ObjectRoute } from "./routes.js";
import { graphState } from "./state.js";

export const owners: ObjectRoute = (ctx, g, c, o, tail) => {
  const dir = graphState(ctx).dir;
  const method = g.method.toUpperCase();
  if (tail.length === 0) {
    if (method !== "GET") throw methodNotAllowed();
    if (!canRead(c, o) && !o.owners.includes(c.oid)) throw denied();
    const headers = charge(ctx, g, c, {});
    const value = o.owners.map((id) => {
      const owner = dir.object(c.tenantId, id);
      if (!owner) return { "@odata.type": "#microsoft.graph.user", id };
      return {
        "@odata.type": ODATA_TYPES[owner.kind] ?? "#microsoft.graph.servicePrincipal",
        ...objectJson(
          owner,
          ["id", "appId", "displayName", "servicePrincipalType"].filter((p) =>
            APPLICATION_KINDS.has(owner.kind) ? p !== "servicePrincipalType" : true,
          ),
        ),
      };
    });
    return ok({ "@odata.context": contextUrl(ctx, g, "directoryObjects"), value }, headers);
  }
  if (tail.length === 1 && tail[0] === "$ref" && method === "POST") {
    const body = requireJson(g);
    if (!canWrite(c, o)) throw denied();
    const ref = String(body["@odata.id"] ?? "");
    const id = /([0-9a-f-]{36})\/?$/i.exec(ref)?.[1];
    if (!id)
      throw new GraphError(
        400,
        "Request_BadRequest",
        "The '@odata.id' of the reference is missing or invalid.",
      );
    const headers = charge(ctx, g, c, { write: true });
    if (!dir.object(c.tenantId, id)) throw notFound(id);
    if (o.owners.includes(id.toLowerCase()))
      throw new GraphError(
        400,
        "Request_BadRequest",
        "One or more added object references already exist for the following modified properties: 'owners'.",
      );
    dir.addOwner(c.tenantId, o.id, id);
    return { status: 204, headers };
  }
  if (tail.length === 2 && tail[1] === "$ref" && method === "DELETE") {
    if (!canWrite(c, o)) throw denied();
    const headers = charge(ctx, g, c, { write: true });
    if (!dir.removeOwner(c.tenantId, o.id, tail[0] as string)) throw notFound(tail[0] as string);
    return { status: 204, headers };
  }
  throw methodNotAllowed();
};
