/** BENCHMARKS.md after a run of some parts (BENCH_ONLY): their sections replaced, the others kept. */
import { describe, expect, it } from "vitest";
import { mergeSections, sectionsOf } from "../../../bench/sections.js";

const previous = [
  "<!-- bench:run.ts:start -->",
  "Reproduce: an earlier run.",
  "",
  "## Sweep",
  "",
  "### Full sweep",
  "old sweep",
  "",
  "## Cold start of the Functions entry",
  "old cold",
  "",
  "## Rotation of 1,000 bindings",
  "old rotation",
].join("\n");

describe("mergeSections", () => {
  it("replaces the sections of the parts that ran and keeps the others, in the parts' order", () => {
    const fresh = "## Event to attached\n\nnew events\n\n## Rotation of 20 bindings\nnew rotation\n";
    const merged = mergeSections(previous, fresh, ["rotation", "events"]);
    expect(merged).toBe(
      [
        "## Sweep",
        "",
        "### Full sweep",
        "old sweep",
        "",
        "## Cold start of the Functions entry",
        "old cold",
        "",
        "## Rotation of 20 bindings",
        "new rotation",
        "",
        "## Event to attached",
        "",
        "new events",
        "",
      ].join("\n"),
    );
  });

  it("drops a part's section when it ran and wrote none, and text outside the parts' sections", () => {
    const merged = mergeSections(previous, "", ["sweep"]);
    expect([...sectionsOf(merged).keys()]).toEqual(["cold", "rotation"]);
    expect(merged).not.toContain("Reproduce");
  });
});
