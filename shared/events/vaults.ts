/**
 * Which vault an event comes from: the allow-list check on `topic`/`source`, and the mapping of
 * the event to a configured vault (ROLLOVER_VAULT_URLS) by the origin of `data.Id` or by name.
 */
import type { VaultEdge } from "../azure/keyvault.js";
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

/**
 * The configured vault the event is about: the one whose URL has the origin of `data.Id`, else
 * the one named by `data.VaultName` or by the source's resource id.
 */
export function resolveVault(
  event: KeyVaultEvent,
  vaults: ReadonlyMap<string, VaultEdge>,
): VaultEdge | undefined {
  const origin = event.data.id ? originOf(event.data.id) : undefined;
  if (origin) {
    for (const v of vaults.values()) if (originOf(v.vaultUrl) === origin) return v;
  }
  const names = [event.data.vaultName?.toLowerCase(), vaultNameFromResourceId(event.source)].filter(
    (n): n is string => !!n,
  );
  for (const v of vaults.values()) if (names.includes(v.name.toLowerCase())) return v;
  return undefined;
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
