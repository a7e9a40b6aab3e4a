import type { TokenCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { VaultEdge } from "../../../shared/azure/keyvault.js";
import {
  certificateNameOf,
  isAllowedSource,
  type KeyVaultEvent,
  resolveVault,
  vaultNameFromResourceId,
} from "../../../shared/events/index.js";

const ID = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/Contoso-KV";
const noCredential: TokenCredential = { getToken: async () => null };

function event(over: Partial<KeyVaultEvent> & { data?: KeyVaultEvent["data"] }): KeyVaultEvent {
  return {
    schema: "EventGridSchema",
    id: "1",
    type: "Microsoft.KeyVault.CertificateNearExpiry",
    source: ID,
    data: {},
    ...over,
  };
}

describe("allow list and vault mapping", () => {
  it("names a vault from its resource id", () => {
    expect(vaultNameFromResourceId(ID)).toBe("contoso-kv");
    expect(vaultNameFromResourceId(`${ID}/`)).toBe("contoso-kv");
    expect(vaultNameFromResourceId("/subscriptions/0000/resourceGroups/rg")).toBeUndefined();
  });

  it.each([
    [[ID], true],
    [[ID.toLowerCase()], true],
    [[`${ID.toUpperCase()}/`], true],
    [["contoso-kv"], true],
    [[" CONTOSO-KV "], true],
    [["other-kv", ID], true],
    [["other-kv"], false],
    [["/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/contoso-kv2"], false],
    [[], false],
    [[""], false],
  ])("allow list %j → %s", (list, allowed) => {
    expect(isAllowedSource(ID, list)).toBe(allowed);
  });

  it("refuses an event with no source, or a name entry against a source that is not a vault", () => {
    expect(isAllowedSource("", ["contoso-kv"])).toBe(false);
    expect(isAllowedSource("/subscriptions/0000/resourceGroups/contoso-kv", ["contoso-kv"])).toBe(false);
  });

  it("maps an event to a configured vault by the origin of data.Id, else by name", () => {
    const cloud = new VaultEdge("https://contoso-kv.vault.azure.net", noCredential);
    const local = new VaultEdge("https://127.0.0.1:8443/", noCredential);
    const vaults = new Map([
      [cloud.name, cloud],
      [local.name, local],
    ]);
    expect(
      resolveVault(
        event({ data: { id: "https://127.0.0.1:8443/certificates/c/v1", vaultName: "contoso-kv" } }),
        vaults,
      ),
    ).toBe(local);
    expect(
      resolveVault(event({ data: { id: "https://CONTOSO-KV.vault.azure.net/certificates/c/v1" } }), vaults),
    ).toBe(cloud);
    expect(resolveVault(event({ data: { vaultName: "Contoso-KV" } }), vaults)).toBe(cloud);
    expect(resolveVault(event({ data: {} }), vaults)).toBe(cloud); // from the source's resource id
    expect(
      resolveVault(
        event({ source: "/x/providers/Microsoft.KeyVault/vaults/nope", data: { id: "not a url" } }),
        vaults,
      ),
    ).toBeUndefined();
  });

  it("finds the certificate name in ObjectName, the subject or data.Id", () => {
    expect(certificateNameOf(event({ data: { objectName: "a" }, subject: "b" }))).toBe("a");
    expect(certificateNameOf(event({ subject: " b " }))).toBe("b");
    expect(
      certificateNameOf(event({ data: { id: "https://kv.vault.azure.net/certificates/c%20d/v1" } })),
    ).toBe("c d");
    expect(
      certificateNameOf(event({ data: { id: "https://kv.vault.azure.net/secrets/s/v1" } })),
    ).toBeUndefined();
  });
});
