import { describe, expect, it } from "vitest";
import { sweepPageMessage } from "../../../shared/sweep/fanout.js";

const good = {
  runId: "3f2c9a1e-6b1d-4c55-9a63-2f0e0c1b7d41",
  collection: "applications",
  page: 1,
  url: "https://graph.microsoft.com/v1.0/applications",
};

describe("sweep page queue message", () => {
  it("takes a run id that can key a Table partition", () => {
    expect(sweepPageMessage.parse(good).kind).toBe("full");
  });

  it.each(["a/b", "a\\b", "a#b", "a?b", "a\u0001b", "a\u007fb", "", "x".repeat(101)])(
    "refuses run id %j, naming the field",
    (runId) => {
      const r = sweepPageMessage.safeParse({ ...good, runId });
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(["runId"]);
    },
  );
});
