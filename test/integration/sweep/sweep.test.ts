import { describe, expect, it } from "vitest";
import { Reason } from "../../../shared/core/reasons.js";
import { runSweep } from "../../../shared/sweep/run.js";
import { useSandbox } from "../../helpers/sandbox.js";
import { sandboxSweepDeps } from "./helpers.js";

describe("sweep against the sandbox", () => {
  const sb = useSandbox({ seed: "demo" });

  const deps = (settings: Record<string, string>) => sandboxSweepDeps(sb(), settings);

  it("report mode lists findings and changes nothing", async () => {
    const h = sb();
    const before = JSON.stringify(
      h.ctx.directory.get(h.urls.tenantId, "a1000000-0000-4000-8000-000000000004"),
    );
    const { deps: d, audit } = deps({});
    const s = await runSweep(d);
    expect(s.findings[Reason.CredentialExpired]).toBeGreaterThan(0);
    expect(s.findings[Reason.CredentialOverLongLived]).toBeGreaterThan(0);
    expect(s.removed).toBe(0);
    // Without first-sight records (no storage) every candidate counts as seen now: held by grace.
    expect(s.reportedOnly).toBe(0);
    expect(s.held[Reason.GuardGraceWindow]).toBeGreaterThan(0);
    expect(JSON.stringify(h.ctx.directory.get(h.urls.tenantId, "a1000000-0000-4000-8000-000000000004"))).toBe(
      before,
    );
    expect(audit.events.every((e) => e.outcome !== "succeeded")).toBe(true);
  });
});
