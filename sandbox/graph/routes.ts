/**
 * Microsoft Graph (`/v1.0` and `/beta`) for directory applications and service principals,
 * including the agent identity types reached through OData type-cast segments
 * (`/applications/microsoft.graph.agentIdentityBlueprint`, `/applications/{id}/
 * microsoft.graph.agentIdentityBlueprint/addKey`, `/servicePrincipals/microsoft.graph.agentIdentity`;
 * research graph-entra.md §1.2).
 *
 * One route catches every Graph path; this module parses the path itself, so that `$batch` can run
 * its inner requests through the same code (authorization and throttling per inner request). It
 * only dispatches; the handlers live by concern:
 *
 *   auth.ts          the token, the permissions each request takes, the throttle charge
 *   paging.ts        lists: $top/$skiptoken/$select/$filter/$count, nextLink; /delta and deltaLink
 *   objects.ts       GET/POST/PATCH/DELETE of one application, service principal, blueprint, agent
 *   credentials.ts   addKey/removeKey (proof.ts), addPassword/removePassword, keyCredentials bodies
 *   owners.ts        owners and owners/$ref
 *   appRoleAssignments.ts   a service principal's grants
 *   odata.ts, consistency.ts, state.ts   the request and reply, stale reads, per-sandbox state
 */
import type { SandboxResponse } from "../http.js";
import type { SandboxContext } from "../types.js";
import { appRoleAssignments } from "./appRoleAssignments.js";
import { authenticate, type Caller } from "./auth.js";
import { CREDENTIAL_ACTIONS, credentialAction } from "./credentials.js";
import type { DirObject } from "./directory.js";
import { GraphError } from "./graph-error.js";
import type { Collection } from "./model.js";
import { create, getOne, patch, remove } from "./objects.js";
import {
  answered,
  GUID,
  type GraphRequest,
  inCollection,
  kindMatchesCast,
  methodNotAllowed,
  notFound,
} from "./odata.js";
import { owners } from "./owners.js";
import { delta, list } from "./paging.js";
import { graphState } from "./state.js";

/** A route on a collection or one of its type casts (`/applications/microsoft.graph.agentIdentityBlueprint`). */
export type CollectionRoute = (
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  collection: Collection,
  cast: string | undefined,
) => SandboxResponse;

/** A route below one object (`/{collection}/{id}/{segment}/…`): `tail` is what follows `segment`. */
export type ObjectRoute = (
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  o: DirObject,
  tail: string[],
) => SandboxResponse;

/** The routes below one object, by their lower-cased segment, and the collections that have them. */
const BELOW_OBJECT = new Map<string, { collections: readonly Collection[]; handler: ObjectRoute }>([
  ["owners", { collections: ["applications", "servicePrincipals"], handler: owners }],
  ["approleassignments", { collections: ["servicePrincipals"], handler: appRoleAssignments }],
]);

const CAST =
  /^(?:microsoft\.)?graph\.(agentIdentityBlueprintPrincipal|agentIdentityBlueprint|agentIdentity|application|servicePrincipal)$/i;

export function handleGraph(ctx: SandboxContext, g: GraphRequest): Promise<SandboxResponse> {
  return answered(g.requestId, () => route(ctx, g));
}

function collectionOf(seg: string): { collection: Collection; appIdKey?: string } | undefined {
  const m = /^(applications|servicePrincipals)(?:\(appId='([^']*)'\))?$/i.exec(seg);
  if (!m) return undefined;
  const collection: Collection =
    (m[1] as string).toLowerCase() === "applications" ? "applications" : "servicePrincipals";
  return m[2] !== undefined ? { collection, appIdKey: m[2] } : { collection };
}

function castOf(seg: string | undefined): string | undefined {
  if (!seg) return undefined;
  const m = CAST.exec(seg);
  if (!m) return undefined;
  const name = (m[1] as string).toLowerCase();
  return {
    agentidentityblueprintprincipal: "agentIdentityBlueprintPrincipal",
    agentidentityblueprint: "agentIdentityBlueprint",
    agentidentity: "agentIdentity",
    application: "application",
    serviceprincipal: "servicePrincipal",
  }[name];
}

async function route(ctx: SandboxContext, g: GraphRequest): Promise<SandboxResponse> {
  const [first, ...rest] = g.segments;
  const coll = first ? collectionOf(first) : undefined;
  if (!first || !coll)
    throw new GraphError(400, "BadRequest", `Resource not found for the segment '${first ?? ""}'.`);
  const caller = await authenticate(ctx, g);
  const dir = graphState(ctx).dir;
  const method = g.method.toUpperCase();

  let target: DirObject | undefined;
  let tail: string[];
  if (coll.appIdKey !== undefined) {
    target =
      coll.collection === "applications"
        ? dir.application(caller.tenantId, coll.appIdKey)
        : dir.servicePrincipal(caller.tenantId, coll.appIdKey);
    if (!target) throw notFound(coll.appIdKey);
    tail = rest;
  } else {
    const second = rest[0];
    if (second === undefined) {
      if (method === "GET") return list(ctx, g, caller, coll.collection, undefined);
      if (method === "POST") return create(ctx, g, caller, coll.collection, undefined);
      throw methodNotAllowed();
    }
    if (second.toLowerCase() === "delta" && rest.length === 1) {
      if (method !== "GET") throw methodNotAllowed();
      return delta(ctx, g, caller, coll.collection);
    }
    const cast = castOf(second);
    if (cast && rest.length === 1) {
      if (method === "GET") return list(ctx, g, caller, coll.collection, cast);
      if (method === "POST") return create(ctx, g, caller, coll.collection, cast);
      throw methodNotAllowed();
    }
    if (!GUID.test(second))
      throw new GraphError(400, "Request_BadRequest", `Invalid object identifier '${second}'.`);
    const o = dir.object(caller.tenantId, second);
    if (!o || !inCollection(o, coll.collection)) throw notFound(second);
    target = o;
    tail = rest.slice(1);
  }
  const cast = castOf(tail[0]);
  if (cast) {
    if (!kindMatchesCast(target, cast)) throw notFound(target.id);
    tail = tail.slice(1);
  }
  const action = tail[0]?.toLowerCase();
  if (action === undefined) {
    if (method === "GET") return getOne(ctx, g, caller, coll.collection, target, cast);
    if (method === "PATCH") return patch(ctx, g, caller, target);
    if (method === "DELETE") return remove(ctx, g, caller, target);
    throw methodNotAllowed();
  }
  const actionName = action.replace(/^(?:microsoft\.)?graph\./, "");
  if (CREDENTIAL_ACTIONS.has(actionName) && tail.length === 1) {
    if (method !== "POST") throw methodNotAllowed();
    return credentialAction(ctx, g, caller, target, actionName);
  }
  const below = BELOW_OBJECT.get(action);
  if (below?.collections.includes(coll.collection))
    return below.handler(ctx, g, caller, target, tail.slice(1));
  throw new GraphError(400, "BadRequest", `Resource not found for the segment '${tail[0]}'.`);
}
