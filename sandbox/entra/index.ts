/** Entra: OIDC discovery, JWKS, the token endpoint, the managed identity endpoint, the sign-in log. */
import type { Route } from "../http.js";
import type { SandboxContext, SignInEntry, SignInLog } from "../types.js";

export function createSignInLog(): SignInLog {
  let list: SignInEntry[] = [];
  return {
    add: (e) => {
      list.push(e);
    },
    entries: () => [...list],
    reset: () => {
      list = [];
    },
  };
}

export function entraRoutes(_ctx: SandboxContext): Route[] {
  return [];
}

export function msiRoutes(_ctx: SandboxContext): Route[] {
  return [];
}
