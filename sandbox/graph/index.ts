/** Microsoft Graph: applications, service principals, agent identity blueprints and agent identities. */
import type { VirtualClock } from "../clock.js";
import type { Route, SandboxRequest, SandboxResponse } from "../http.js";
import type { DirectoryStore, SandboxContext } from "../types.js";
import { runBatch } from "./batch.js";
import { Directory } from "./directory.js";
import type { GraphThrottleLimits } from "./throttle.js";
import { graphAppRoleAssignedTo } from "./appRoleAssignedTo.js";
import { appManagementPolicyRoutes } from "./policies.js";
import { credentialActivityReport } from "./reports.js";
import { answered, type GraphRequest, toGraphRequest } from "./odata.js";
import { handleGraph } from "./routes.js";
import { graphState } from "./state.js";

export { Directory } from "./directory.js";
export {
  addAppManagementPolicy,
  type AppPolicyInit,
  type DefaultPolicyInit,
  setDefaultAppManagementPolicy,
} from "./policies.js";
export { DEFAULT_GRAPH_THROTTLE_LIMITS, type GraphThrottleLimits } from "./throttle.js";
export { PROOF_AUDIENCE } from "./proof.js";

export function createDirectory(opts: { clock: VirtualClock; defaultTenantId: string }): DirectoryStore {
  return new Directory(opts.clock, opts.defaultTenantId);
}

/**
 * Changes Graph's throttling limits for a running sandbox (partial: unnamed limits keep their
 * value; `{ enabled: false }` turns throttling off). Returns the limits now in force.
 */
export function configureGraphThrottling(
  ctx: SandboxContext,
  limits: Partial<GraphThrottleLimits>,
): GraphThrottleLimits {
  return graphState(ctx).throttle.configure(limits);
}

export function graphThrottlingLimits(ctx: SandboxContext): GraphThrottleLimits {
  return graphState(ctx).throttle.current();
}

export function graphRoutes(ctx: SandboxContext): Route[] {
  const wrap =
    (handler: (ctx: SandboxContext, g: GraphRequest) => Promise<SandboxResponse>) =>
    (req: SandboxRequest) => {
      const g = toGraphRequest(req);
      return answered(g.requestId, () => handler(ctx, g));
    };
  return [
    {
      // Grants of Microsoft Graph's app roles, from the resource's side (appRoleAssignedTo.ts).
      service: "graph",
      method: ["GET", "POST", "PATCH", "PUT", "DELETE"],
      path: /^\/(?:v1\.0|beta)\/servicePrincipals\(appId='00000003-0000-0000-c000-000000000000'\)\/appRoleAssignedTo$/i,
      handler: wrap(graphAppRoleAssignedTo),
    },
    {
      service: "graph",
      method: ["GET", "POST", "PATCH", "PUT", "DELETE"],
      // Only the resources the sandbox serves; other paths get the server's 404 in Graph's envelope.
      path: /^\/(?:v1\.0|beta)\/(?:applications|servicePrincipals|\$batch)(?:[/(].*)?$/i,
      handler: (req) => {
        const g = toGraphRequest(req);
        if (g.segments.length === 1 && g.segments[0] === "$batch") return runBatch(ctx, g);
        return handleGraph(ctx, g);
      },
    },
    {
      // App management policies (policies.ts).
      service: "graph",
      method: ["GET", "POST", "PATCH", "PUT", "DELETE"],
      path: /^\/(?:v1\.0|beta)\/policies\/(?:defaultAppManagementPolicy|appManagementPolicies)(?:\/.*)?$/i,
      handler: wrap(appManagementPolicyRoutes),
    },
    {
      // The application credential activity report (reports.ts).
      service: "graph",
      method: ["GET", "POST", "PATCH", "PUT", "DELETE"],
      path: /^\/(?:v1\.0|beta)\/reports\/appCredentialSignInActivities(?:\/.*)?$/i,
      handler: wrap(credentialActivityReport),
    },
  ];
}
