/**
 * Which vault an event comes from: the allow-list check on `topic`/`source`, and the mapping of
 * the event to a configured vault (ROLLOVER_VAULT_URLS) by the origin of `data.Id` or by name.
 */
import { isCloudVaultHost, type VaultEdge } from "../azure/keyvault.js";
import type { KeyVaultEvent } from "./types.js";

const VAULT_ID_RE = /\/providers\/microsoft\.keyvault\/vaults\/([^/]+)\/?$/i;

/** `contoso-kv` of `/subscriptions/…/providers/Microsoft.KeyVault/vaults/contoso-kv`, lower-cased. */
export function vaultNameFromResourceId(resourceId: string): string | undefined {
  return VAULT_ID_RE.exec(resourceId.trim())?.[1]?.toLowerCase();
}

function trimSlashes(s: string): string {
  return s.trim().replace(/\/+$/, "").toLowerCase();
}

/**
 * Whether `source` (a vault's resource id) is on the allow list. Entries are resource ids
 * (compared whole) or vault names (compared with the id's last segment), case-insensitively.
 * An empty list allows nothing.
 */
export function isAllowedSource(source: string, allowList: readonly string[]): boolean {
  const id = trimSlashes(source);
  if (!id) return false;
  const name = vaultNameFromResourceId(source);
  return allowList.some((raw) => {
    const entry = trimSlashes(raw);
    if (!entry) return false;
    if (entry.startsWith("/")) return entry === id;
    return name !== undefined && entry === name;
  });
}

function originOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.origin.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/** The vault's name as a Key Vault URL's host says it (`contoso-kv` of contoso-kv.vault.azure.net); undefined off Azure's DNS. */
function cloudVaultName(url: string): string | undefined {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return isCloudVaultHost(host) ? host.split(".")[0] : undefined;
  } catch {
    return undefined;
  }
}

export type VaultResolution =
  | { ok: true; vault: VaultEdge }
  | { ok: false; reason: "VaultNotConfigured" | "EventVaultMismatch"; message: string };

/**
 * The configured vault the event is about, and only if every field that names a vault names the
 * same one: the allow list was checked on `topic`/`source`, so the vault acted on must be that
 * vault. `data.Id` (when present) picks the configured vault by its origin, with no fallback; its
 * host's vault name, and `data.VaultName`, must equal the source's vault name. A vault URL off
 * Azure's DNS (a local sandbox) has no name in its host; there `data.VaultName` must match.
 */
export function resolveEventVault(
  event: KeyVaultEvent,
  vaults: ReadonlyMap<string, VaultEdge>,
): VaultResolution {
  const sourceName = vaultNameFromResourceId(event.source);
  const dataName = event.data.vaultName?.trim().toLowerCase() || undefined;
  const mismatch = (what: string, name: string): VaultResolution => ({
    ok: false,
    reason: "EventVaultMismatch",
    message: `${what} names vault ${name}, but the event's topic/source is vault ${sourceName ?? "(none)"}`,
  });
  if (dataName !== undefined && dataName !== sourceName) return mismatch("data.VaultName", dataName);
  if (event.data.id) {
    const origin = originOf(event.data.id);
    const idName = cloudVaultName(event.data.id);
    if (idName !== undefined && idName !== sourceName) return mismatch("data.Id", idName);
    const vault = origin ? [...vaults.values()].find((v) => originOf(v.vaultUrl) === origin) : undefined;
    if (!vault)
      return { ok: false, reason: "VaultNotConfigured", message: "data.Id is not in a configured vault" };
    // A local endpoint has no name in its host: the name the event gives must be the source's.
    if (idName === undefined && cloudVaultName(vault.vaultUrl) === undefined && dataName === undefined)
      return mismatch("data.Id", "(a local endpoint, with no data.VaultName)");
    return { ok: true, vault };
  }
  const vault = [...vaults.values()].find(
    (v) => sourceName !== undefined && v.name.toLowerCase() === sourceName,
  );
  return vault
    ? { ok: true, vault }
    : { ok: false, reason: "VaultNotConfigured", message: "the source's vault is not configured" };
}

/** The configured vault the event is about (see resolveEventVault), or undefined. */
export function resolveVault(
  event: KeyVaultEvent,
  vaults: ReadonlyMap<string, VaultEdge>,
): VaultEdge | undefined {
  const r = resolveEventVault(event, vaults);
  return r.ok ? r.vault : undefined;
}

/** The certificate's name: `data.ObjectName`, else the subject, else the name in `data.Id`. */
export function certificateNameOf(event: KeyVaultEvent): string | undefined {
  if (event.data.objectName) return event.data.objectName;
  if (event.subject?.trim()) return event.subject.trim();
  if (event.data.id) {
    try {
      const parts = new URL(event.data.id).pathname.split("/").filter(Boolean);
      if (parts[0]?.toLowerCase() === "certificates" && parts[1]) return decodeURIComponent(parts[1]);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
