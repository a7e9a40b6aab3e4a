/**
 * Shared set-up for the EntraAgentId tests: an application registered in the sandbox directory
 * with a certificate, PEM files in a temp dir, the sandbox's managed identity endpoint in the
 * environment, and the sign-in log filtered to one client.
 */
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { EntraAgentId, type TokenCredentialLike } from "../../../shared/identity/index.js";
import type { SandboxHandle } from "../../../sandbox/index.js";
import type { SignInEntry } from "../../../sandbox/types.js";
import { makeCert, type TestCert } from "../../helpers/certs.js";

export const GRAPH = "https://graph.microsoft.com/.default";

/** Points @azure/identity's managed identity at the sandbox (App Service source). */
export function useSandboxManagedIdentity(h: SandboxHandle): void {
  process.env.IDENTITY_ENDPOINT = h.env.IDENTITY_ENDPOINT;
  process.env.IDENTITY_HEADER = h.env.IDENTITY_HEADER;
}

/**
 * A credential for the sandbox vault: an application signing in with a client secret, through an
 * EntraAgentId on the sandbox's virtual clock. (MSAL's own token caches run on the process clock,
 * which the virtual clock leaves behind once a test moves it; the sandbox vault judges tokens on
 * the virtual clock.)
 */
export function vaultCredential(h: SandboxHandle): TokenCredentialLike & { close(): Promise<void> } {
  const t = h.ctx.directory.defaultTenantId;
  const app = h.ctx.directory.createApplication(t, { displayName: "vault-reader" });
  const pw = h.ctx.directory.addPasswordCredential(t, app.id, {
    endDateTime: new Date(h.ctx.clock.now() + 3650 * 86_400_000).toISOString(),
  });
  const reader = new EntraAgentId({
    tenantId: h.urls.tenantId,
    clientId: app.appId,
    clientSecret: pw.secretText,
    authorityHost: h.urls.authorityHost,
    now: () => h.ctx.clock.now(),
  });
  return {
    async getToken(scopes) {
      // Reported as already due, so that the Key Vault client asks every time and the reader's
      // cache (on the virtual clock) decides.
      return { token: await reader.getToken(scopes), expiresOnTimestamp: Date.now() + 500 };
    },
    close: () => reader.close(),
  };
}

export interface RegisteredApp {
  id: string;
  appId: string;
  cert: TestCert;
}

export async function registerApp(h: SandboxHandle, name = "service"): Promise<RegisteredApp> {
  const t = h.ctx.directory.defaultTenantId;
  const app = h.ctx.directory.createApplication(t, { displayName: name });
  const cert = await makeCert({ subject: `CN=${name}` });
  h.ctx.directory.addKeyCredential(t, app.id, { certificateDer: cert.der });
  return { id: app.id, appId: app.appId, cert };
}

export function addCert(h: SandboxHandle, objectId: string, der: Uint8Array, endDateTime?: string) {
  return h.ctx.directory.addKeyCredential(h.ctx.directory.defaultTenantId, objectId, {
    certificateDer: der,
    ...(endDateTime ? { endDateTime } : {}),
  });
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "rollover-identity-"));
}

/** Writes a PEM the way deployment tools do: to a temp name, then renamed over the target. */
export function writePemAtomically(path: string, pem: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, pem);
  renameSync(tmp, path);
}

export function signInsFor(h: SandboxHandle, clientId: string): SignInEntry[] {
  return h.ctx.signIns.entries().filter((e) => e.clientId === clientId.toLowerCase());
}

export function claims(token: string): Record<string, unknown> {
  return decodeJwt(token) as Record<string, unknown>;
}

/**
 * Waits for an event (a reload, a background failure) by polling `check`; `timeoutMs` is only a
 * cap for an event that never comes, generous so that a loaded machine does not reach it.
 */
export async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export { makeCert };

/**
 * A new Key Vault certificate version, valid from an hour ago on the process clock: the Key Vault
 * SDK checks a key's `nbf` against the process clock before it asks the vault to sign, and
 * the sandbox's virtual clock may be ahead of it.
 */
export function createVaultCertificate(h: SandboxHandle, name: string) {
  const realNow = Math.floor(Date.now() / 1000);
  return h.ctx.vault.createCertificate(name, {
    notBefore: realNow - 3600,
    expires: Math.floor(h.ctx.clock.now() / 1000) + 365 * 86_400,
  });
}
