/**
 * Credentials: the actions addKey and removeKey (with their proof of possession, proof.ts),
 * addPassword and removePassword (application-addkey.md, application-removekey.md,
 * application-addpassword.md, application-removepassword.md and their servicePrincipal and
 * agentIdentityBlueprint pages), and the `keyCredentials` a create or PATCH sets
 * (application-update.md; keycredential.md).
 */
import type { SandboxResponse } from "../http.js";
import type { SandboxContext } from "../types.js";
import { type Caller, canRollKeys, canWrite, charge, denied } from "./auth.js";
import { certInfo } from "./certs.js";
import { lagged } from "./consistency.js";
import { type DirObject, type Directory, graphDate } from "./directory.js";
import { GraphError } from "./graph-error.js";
import { keyCredentialJson, passwordCredentialJson } from "./model.js";
import { contextUrl, GUID, type GraphRequest, ok, requireJson } from "./odata.js";
import { enforceKeyCredential, enforcePasswordCredential } from "./policies.js";
import { checkProof } from "./proof.js";
import { graphState } from "./state.js";

/** One credential action, once the caller is allowed and charged (and a key action's proof holds). */
type CredentialWrite = (
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  o: DirObject,
  body: Record<string, unknown>,
  headers: Record<string, string>,
) => SandboxResponse;

/**
 * `POST …/addKey|removeKey|addPassword|removePassword`. Keys: the object itself, or a caller
 * `canRollKeys` allows, with a proof of possession; passwords: a caller `canWrite` allows for
 * credentials (auth.ts names the permissions and their pages).
 */
export async function credentialAction(
  ctx: SandboxContext,
  g: GraphRequest,
  c: Caller,
  o: DirObject,
  action: string,
): Promise<SandboxResponse> {
  const body = requireJson(g);
  if (o.kind === "agentIdentity")
    throw new GraphError(
      400,
      "PropertyNotCompatibleWithAgentIdentity",
      "Agent identities hold no credentials of their own; manage credentials on the agent identity blueprint.",
    );
  const keys = action === "addkey" || action === "removekey";
  if (!(keys ? canRollKeys(c, o) : canWrite(c, o, true))) throw denied();
  const headers = charge(ctx, g, c, { write: true });
  if (keys) checkProof(ctx.clock, o, body.proof);
  return (CREDENTIAL_ACTIONS.get(action) as CredentialWrite)(ctx, g, c, o, body, headers);
}

/** The reply to addKey / addPassword: the credential added. */
function added(
  ctx: SandboxContext,
  g: GraphRequest,
  type: string,
  credential: Record<string, unknown>,
  headers: Record<string, string>,
): SandboxResponse {
  return ok({ "@odata.context": contextUrl(ctx, g, `microsoft.graph.${type}`), ...credential }, headers);
}

const addKey: CredentialWrite = (ctx, g, _c, o, body, headers) => {
  const dir = graphState(ctx).dir;
  const kcRaw = body.keyCredential;
  if (typeof kcRaw !== "object" || kcRaw === null)
    throw new GraphError(400, "Request_BadRequest", "Property 'keyCredential' is required.");
  const k = kcRaw as Record<string, unknown>;
  if (k.type !== "AsymmetricX509Cert" || k.usage !== "Verify")
    throw new GraphError(
      400,
      "Request_BadRequest",
      "keyCredential: type, usage and key are required; the sandbox supports type AsymmetricX509Cert with usage Verify.",
    );
  const der = certificateBytes(k.key);
  const thumb = certInfo(der).sha1Hex;
  if (o.keyCredentials.some((x) => certInfo(x.key).sha1Hex === thumb))
    throw new GraphError(
      400,
      "Request_BadRequest",
      "A key credential with the same certificate already exists on this object.",
    );
  // customKeyIdentifier is kept as the caller sent it: Graph takes any value there and
  // defaults it to the certificate's thumbprint only when it is left out (keycredential.md).
  const kc = dir.makeKeyCredential({
    certificateDer: der,
    ...(typeof k.displayName === "string" ? { displayName: k.displayName } : {}),
    ...(typeof k.customKeyIdentifier === "string" ? { customKeyIdentifier: k.customKeyIdentifier } : {}),
  });
  enforceKeyCredential(ctx, o, kc.startDateTime, kc.endDateTime);
  lagged(ctx, o, () => {
    o.keyCredentials.push(kc);
    dir.touch(o, ["keyCredentials"]);
  });
  return added(ctx, g, "keyCredential", keyCredentialJson(kc, false), headers);
};

const addPassword: CredentialWrite = (ctx, g, c, o, body, headers) => {
  const pcRaw = (body.passwordCredential ?? {}) as Record<string, unknown>;
  const start = typeof pcRaw.startDateTime === "string" ? pcRaw.startDateTime : graphDate(ctx.clock.now());
  // endDateTime defaults to startDateTime + 2 years (application-addpassword.md).
  const end =
    typeof pcRaw.endDateTime === "string"
      ? pcRaw.endDateTime
      : graphDate(new Date(Date.parse(start) + 2 * 365 * 24 * 3600 * 1000));
  if (Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end)))
    throw new GraphError(
      400,
      "Request_BadRequest",
      "Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.",
    );
  enforcePasswordCredential(ctx, o, start, end);
  const pc = lagged(ctx, o, () =>
    graphState(ctx).dir.addPasswordCredential(c.tenantId, o.id, {
      ...(typeof pcRaw.displayName === "string" ? { displayName: pcRaw.displayName } : {}),
      startDateTime: start,
      endDateTime: end,
    }),
  );
  return added(ctx, g, "passwordCredential", passwordCredentialJson(pc, true), headers);
};

/** removeKey / removePassword: the credential `body.keyId` names, 404 when the object holds none. */
function removeCredential(property: "keyCredentials" | "passwordCredentials"): CredentialWrite {
  return (ctx, _g, _c, o, body, headers) => {
    const keyId = String(body.keyId ?? "").toLowerCase();
    const idx = (o[property] as Array<{ keyId: string }>).findIndex((x) => x.keyId === keyId);
    if (idx < 0)
      throw new GraphError(
        404,
        "Request_ResourceNotFound",
        `No ${property === "keyCredentials" ? "key" : "password"} credential with keyId '${keyId}' exists on object '${o.id}'.`,
      );
    lagged(ctx, o, () => {
      o[property].splice(idx, 1);
      graphState(ctx).dir.touch(o, [property]);
    });
    return { status: 204, headers };
  };
}

/** The credential actions an object takes (`/{collection}/{id}/{action}`), by lower-cased name. */
export const CREDENTIAL_ACTIONS = new Map<string, CredentialWrite>([
  ["addkey", addKey],
  ["removekey", removeCredential("keyCredentials")],
  ["addpassword", addPassword],
  ["removepassword", removeCredential("passwordCredentials")],
]);

/**
 * PATCH replaces the whole collection (research graph-entra.md §2.2). An entry with no `key` but
 * the `keyId` of a credential the object already holds keeps that credential (reads without
 * `$select=keyCredentials` return `key: null`, so a read-modify-write sends existing entries that
 * way); any other entry must carry the certificate.
 */
export function parseKeyCredentials(dir: Directory, o: DirObject, raw: unknown) {
  if (!Array.isArray(raw))
    throw new GraphError(
      400,
      "Request_BadRequest",
      "Invalid value specified for property 'keyCredentials' of resource 'Application'.",
    );
  const out = [];
  const seen = new Set<string>();
  for (const item of raw) {
    if (typeof item !== "object" || item === null)
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'keyCredentials' of resource 'Application'.",
      );
    const k = item as Record<string, unknown>;
    const keyId = typeof k.keyId === "string" ? k.keyId.toLowerCase() : undefined;
    if (keyId !== undefined && !GUID.test(keyId))
      throw new GraphError(
        400,
        "Request_BadRequest",
        `Invalid value specified for property 'keyId' of resource 'KeyCredential'.`,
      );
    if (keyId && seen.has(keyId))
      throw new GraphError(400, "Request_BadRequest", `Duplicate keyId '${keyId}' in keyCredentials.`);
    if (k.key === null || k.key === undefined) {
      const existing = keyId ? o.keyCredentials.find((x) => x.keyId === keyId) : undefined;
      if (!existing)
        throw new GraphError(
          400,
          "Request_BadRequest",
          "Invalid value specified for property 'key' of resource 'KeyCredential'.",
        );
      seen.add(existing.keyId);
      out.push({ ...existing, ...(typeof k.displayName === "string" ? { displayName: k.displayName } : {}) });
      continue;
    }
    if (k.type !== undefined && k.type !== "AsymmetricX509Cert")
      throw new GraphError(
        400,
        "Request_BadRequest",
        `Key credential type '${String(k.type)}' is not supported by the sandbox; use AsymmetricX509Cert.`,
      );
    if (k.usage !== undefined && k.usage !== "Verify")
      throw new GraphError(
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'usage' of resource 'KeyCredential': AsymmetricX509Cert keys have usage Verify.",
      );
    const der = certificateBytes(k.key);
    const kc = dir.makeKeyCredential({
      certificateDer: der,
      ...(typeof k.displayName === "string" ? { displayName: k.displayName } : {}),
      ...(typeof k.startDateTime === "string"
        ? { startDateTime: checkDate(k.startDateTime, "startDateTime") }
        : {}),
      ...(typeof k.endDateTime === "string" ? { endDateTime: checkDate(k.endDateTime, "endDateTime") } : {}),
      ...(keyId ? { keyId } : {}),
      ...(typeof k.customKeyIdentifier === "string" ? { customKeyIdentifier: k.customKeyIdentifier } : {}),
    });
    seen.add(kc.keyId);
    out.push(kc);
  }
  return out;
}

function checkDate(s: string, name: string): string {
  if (Number.isNaN(Date.parse(s)))
    throw new GraphError(
      400,
      "Request_BadRequest",
      `Invalid value specified for property '${name}' of resource 'KeyCredential'.`,
    );
  return s;
}

function certificateBytes(raw: unknown): Uint8Array {
  if (typeof raw !== "string" || !/^[A-Za-z0-9+/=\s]+$/.test(raw))
    throw new GraphError(
      400,
      "Request_BadRequest",
      "Invalid value specified for property 'key' of resource 'KeyCredential'.",
    );
  const der = new Uint8Array(Buffer.from(raw, "base64"));
  try {
    certInfo(der);
  } catch {
    throw new GraphError(
      400,
      "Request_BadRequest",
      "Invalid certificate: the key credential's key is not a DER-encoded X.509 certificate.",
    );
  }
  return der;
}
