/**
 * Graph's `@odata.type` of every object Rollover handles maps to its target type, in one table the
 * Graph edge (toTarget, readTargetPage) and the offline snapshot both read.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toTarget } from "../../../shared/azure/graph.js";
import {
  parseSnapshot,
  TARGET_TYPES,
  type TargetType,
  targetTypeOfOdata,
} from "../../../shared/core/index.js";

const GUID = "11111111-2222-4333-8444-555555555555";

// As Graph writes them (Graph reference: resources/application, resources/serviceprincipal;
// learn.microsoft.com/entra/agent-id/identity-platform/agent-blueprint for the agent types).
const GRAPH_TYPES: Array<[string, TargetType]> = [
  ["#microsoft.graph.application", "application"],
  ["#microsoft.graph.servicePrincipal", "servicePrincipal"],
  ["#microsoft.graph.agentIdentityBlueprint", "agentIdentityBlueprint"],
  ["#microsoft.graph.agentIdentityBlueprintPrincipal", "servicePrincipal"],
];

describe("targetTypeOfOdata", () => {
  it.each(GRAPH_TYPES)("maps %s to %s", (odata, type) => {
    expect(targetTypeOfOdata(odata)).toBe(type);
  });

  it("reaches every target type Rollover handles", () => {
    expect(new Set(GRAPH_TYPES.map(([odata]) => targetTypeOfOdata(odata)))).toEqual(new Set(TARGET_TYPES));
  });

  it("ignores case, as Graph's casing of @odata.type varies", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...GRAPH_TYPES),
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        ([odata, type], upper) => {
          const spelled = [...odata].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join("");
          expect(targetTypeOfOdata(spelled)).toBe(type);
        },
      ),
    );
  });

  it("knows no other type", () => {
    for (const other of [
      undefined,
      "",
      "#microsoft.graph.user",
      "#microsoft.graph.agentUser",
      "constructor",
      "__proto__",
      "application",
    ]) {
      expect(targetTypeOfOdata(other)).toBeUndefined();
    }
  });
});

describe("both readers of @odata.type use the one table", () => {
  it.each(GRAPH_TYPES)("Graph's %s is a %s on the Graph edge and in a snapshot", (odata, type) => {
    // A fallback that differs from the expected type: the mapping, not the fallback, decides.
    const fallback: TargetType = type === "application" ? "servicePrincipal" : "application";
    expect(toTarget({ id: GUID, "@odata.type": odata }, "t", fallback).type).toBe(type);
    const s = parseSnapshot({
      tenantId: "t",
      now: "2026-06-01T00:00:00Z",
      objects: [
        {
          "@odata.type": odata,
          id: GUID,
          appId: GUID,
          displayName: "a",
          keyCredentials: [],
          passwordCredentials: [],
        },
      ],
      vaults: [],
    });
    expect(s.issues).toEqual([]);
    expect(s.targets.map((t) => t.type)).toEqual([type]);
  });
});
