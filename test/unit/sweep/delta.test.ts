import { describe, expect, it } from "vitest";
import { sweepStart } from "../../../shared/sweep/delta.js";

const DAY = 86_400_000;

describe("where a sweep starts", () => {
  it("enumerates through /delta when no link is stored yet", () => {
    expect(sweepStart("applications", {}, 0, DAY)).toEqual({
      kind: "fullDelta",
      url: "/applications/delta?$select=id,appId,displayName,keyCredentials,passwordCredentials",
    });
  });
  it("reads the plain list when the last full sweep is too old (expiry happens without change)", () => {
    const s = sweepStart(
      "servicePrincipals",
      { deltaLink: "https://x/delta?$deltatoken=a", lastFullAt: 0 },
      DAY,
      DAY,
    );
    expect(s.kind).toBe("full");
    expect(s.url).toMatch(/^\/servicePrincipals\?\$select=.*&\$top=999$/);
  });
  it("follows the delta link in between full sweeps", () => {
    expect(
      sweepStart("applications", { deltaLink: "https://x/delta?$deltatoken=a", lastFullAt: 0 }, DAY - 1, DAY),
    ).toEqual({ kind: "incremental", url: "https://x/delta?$deltatoken=a" });
  });
  it("a link without a recorded full sweep means a full sweep", () => {
    expect(sweepStart("applications", { deltaLink: "https://x/d" }, 5, DAY).kind).toBe("full");
  });
});
