/**
 * Parsing Key Vault events with Microsoft's own samples (kv-monitor-functions.md §1.2–1.5): the
 * Event Grid schema sample with its stray spaces in keys and values and NBF/EXP as strings, its
 * CloudEvents twin, an observed CertificateNearExpiry with numeric NBF/EXP, and the subscription
 * validation event.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  EventParseError,
  eventsOf,
  KEY_VAULT_EVENT_TYPES,
  parseEvent,
  parseEvents,
  parseKeyVaultData,
  validationCodeOf,
} from "../../../shared/events/index.js";

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));

describe("Key Vault event parsing", () => {
  it("handles exactly the three certificate event types", () => {
    expect([...KEY_VAULT_EVENT_TYPES].sort()).toEqual([
      "Microsoft.KeyVault.CertificateExpired",
      "Microsoft.KeyVault.CertificateNearExpiry",
      "Microsoft.KeyVault.CertificateNewVersionCreated",
    ]);
  });

  it("reads the doc's Event Grid sample despite its typos (stray spaces, NBF/EXP as strings)", () => {
    const [e] = parseEvents(fixture("kv-event-secretnewversion-egschema.json"));
    expect(e).toEqual({
      schema: "EventGridSchema",
      id: "00eccf70-95a7-4e7c-8299-2eb17ee9ad64",
      type: "Microsoft.KeyVault.SecretNewVersionCreated",
      source:
        "/subscriptions/{subscription-id}/resourceGroups/sample-rg/providers/Microsoft.KeyVault/vaults/sample-kv",
      subject: "newsecret",
      time: "2019-07-25T01:08:33.1036736Z",
      data: {
        id: "https://sample-kv.vault.azure.net/secrets/newsecret/ee059b2bb5bc48398a53b168c6cdcb10",
        vaultName: "sample-kv",
        objectType: "Secret",
        objectName: "newsecret",
        version: "ee059b2bb5bc48398a53b168c6cdcb10",
        nbf: 1559081980,
        exp: 1559082102,
      },
    });
  });

  it("reads the doc's CloudEvents sample the same way", () => {
    const [ce] = parseEvents(fixture("kv-event-secretnewversion-cloudevent.json"));
    const [eg] = parseEvents(fixture("kv-event-secretnewversion-egschema.json"));
    expect(ce!.schema).toBe("CloudEventSchemaV1_0");
    expect({ ...ce, schema: "x" }).toEqual({ ...eg, schema: "x" });
  });

  it("reads an observed CertificateNearExpiry (PascalCase data, numeric NBF/EXP)", () => {
    const [e] = parseEvents(fixture("kv-event-certnearexpiry-observed.json"));
    expect(e!.type).toBe("Microsoft.KeyVault.CertificateNearExpiry");
    expect(e!.data).toEqual({
      id: "https://<vaultname>.vault.azure.net/certificates/<certificatename>/<versionid>",
      vaultName: "<vaultname>",
      objectType: "Certificate",
      objectName: "<certificatename>",
      version: "<versionid>",
      nbf: 1745695048,
      exp: 1745702248,
    });
  });

  it("takes a single event as well as an array", () => {
    const [one] = fixture("kv-event-certnearexpiry-observed.json") as unknown[];
    expect(parseEvents(one)).toEqual(parseEvents([one]));
    expect(eventsOf(one)).toHaveLength(1);
  });

  it("reads data keys case-insensitively, NBF/EXP null, and CloudEvents data as a JSON string", () => {
    expect(parseKeyVaultData({ id: "x", vaultName: "kv", objectName: "c", nbf: null, exp: null })).toEqual({
      id: "x",
      vaultName: "kv",
      objectName: "c",
      nbf: null,
      exp: null,
    });
    expect(parseKeyVaultData({ VAULTNAME: "kv", " Exp ": " 12 " })).toEqual({ vaultName: "kv", exp: 12 });
    expect(parseKeyVaultData(JSON.stringify({ ObjectName: "c" }))).toEqual({ objectName: "c" });
    expect(parseKeyVaultData(undefined)).toEqual({});
  });

  it.each([
    ["not an object", 42, /not an event/],
    ["neither schema", { id: "1", hello: "world" }, /not an event/],
    ["Event Grid without id", { eventType: "t", data: {} }, /id/],
    [
      "CloudEvent with specversion 0.3",
      { id: "1", source: "/s", specversion: "0.3", type: "t" },
      /specversion/,
    ],
    ["CloudEvent without source", { id: "1", specversion: "1.0", type: "t" }, /source/],
    ["NBF not a number", { id: "1", eventType: "t", data: { NBF: "soon" } }, /data\.nbf/],
    ["data an array", { id: "1", eventType: "t", data: [1] }, /data must be an object/],
    [
      "data a non-JSON string",
      { id: "1", specversion: "1.0", source: "/s", type: "t", data: "{" },
      /not JSON/,
    ],
  ])("rejects %s with a one-line reason", (_name, raw, reason) => {
    let err: unknown;
    try {
      parseEvent(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EventParseError);
    expect((err as Error).message).toMatch(reason);
    expect((err as Error).message).not.toContain("\n");
  });

  it("rejects empty arrays and scalars as delivery bodies, and names the bad event of a batch", () => {
    expect(() => eventsOf([])).toThrow(/no events/);
    expect(() => eventsOf("x")).toThrow(/event object or an array/);
    const good = (fixture("kv-event-certnearexpiry-observed.json") as unknown[])[0];
    expect(() => parseEvents([good, { id: "2" }])).toThrow(/^event 1: /);
  });

  it("finds the validation code of the doc's subscription validation event, and of a double-encoded one", () => {
    const [v] = fixture("eventgrid-subscription-validation.json") as unknown[];
    expect(validationCodeOf(v)).toBe("512d38b6-c7b8-40c8-89fe-f46f9e9622b6");
    expect(validationCodeOf({ data: JSON.stringify({ validationCode: "abc" }) })).toBe("abc");
    expect(validationCodeOf({ data: {} })).toBeUndefined();
    expect(validationCodeOf("x")).toBeUndefined();
  });
});
