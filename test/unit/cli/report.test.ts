import { describe, expect, it } from "vitest";
import { PLOT, renderReportHtml } from "../../../cli/report/html.js";
import { buildReport, severityOf } from "../../../cli/report/model.js";
import { DAY, Reason, type Target } from "../../../shared/core/index.js";

const NOW = Date.parse("2026-06-01T00:00:00Z");

const target: Target = {
  tenantId: "t",
  id: "a1",
  appId: "b1",
  displayName: 'evil <script>alert("x")</script>',
  type: "application",
  keyCredentials: [
    {
      keyId: "k1",
      type: "AsymmetricX509Cert",
      usage: "Verify",
      start: NOW - 100 * DAY,
      end: NOW + 265 * DAY,
      thumbprint: "AA",
    },
  ],
  passwordCredentials: [{ keyId: "s1", start: NOW - 10 * DAY, end: NOW + 20 * DAY }],
};

function report() {
  const finding = (reason: string, keyId: string, credential: "key" | "secret") => ({
    reason: reason as never,
    tenantId: "t",
    targetId: "a1",
    appId: "b1",
    targetType: "application" as const,
    displayName: target.displayName,
    credential,
    keyId,
    start: NOW,
    end: NOW + DAY,
    message: "m",
  });
  return buildReport({
    now: NOW,
    tenantId: "t",
    targets: [target],
    bindings: [],
    plan: {
      findings: [
        finding(Reason.CredentialUnused, "k1", "key"),
        finding(Reason.HighPrivilegeCredential, "s1", "secret"),
      ],
      removals: [],
      held: [],
    },
    runFindings: [{ reason: Reason.SignInDataUnavailable, message: "no AuditLog.Read.All" }],
    audit: [
      {
        TimeGenerated: new Date(NOW - 5 * DAY).toISOString(),
        Action: "verify",
        Outcome: "succeeded",
        TargetObjectId: "a1",
        KeyId: "k1",
        Reason: "VerifyNewKey",
        Message: "ok",
      },
      {
        TimeGenerated: new Date(NOW - 4 * DAY).toISOString(),
        Action: "sweepRemoval",
        Outcome: "succeeded",
        TargetObjectId: "A1",
        KeyId: "old",
        NotBefore: new Date(NOW - 400 * DAY).toISOString(),
        NotAfter: new Date(NOW - 30 * DAY).toISOString(),
        Reason: "RemoveExpired",
        Message: "removed",
      },
      {
        TimeGenerated: new Date(NOW - 3 * DAY).toISOString(),
        Action: "sweepRemoval",
        Outcome: "planned",
        TargetObjectId: "a1",
        DryRun: true,
      },
    ],
    auditSource: "records",
    graceMs: DAY,
  });
}

describe("rollover report", () => {
  it("orders findings by severity, colours credentials by their worst finding, counts events and notes", () => {
    const r = report();
    expect(r.findings.map((f) => f.reason)).toEqual([
      Reason.HighPrivilegeCredential,
      Reason.CredentialUnused,
    ]);
    expect(r.targets[0]?.credentials.map((c) => [c.keyId, c.severity, c.removedAt])).toEqual([
      ["k1", "medium", undefined],
      ["s1", "high", undefined],
      // A secret the audit trail saw removed, drawn from its recorded validity.
      ["old", undefined, new Date(NOW - 4 * DAY).toISOString()],
    ]);
    expect(r.totals).toMatchObject({
      rotations: 1,
      removals: 1,
      findings: 2,
      bySeverity: { high: 1, medium: 1, info: 1 },
    });
    expect(r.targets[0]?.graceWindows).toEqual([
      expect.objectContaining({
        start: new Date(NOW - 5 * DAY).toISOString(),
        end: new Date(NOW - 4 * DAY).toISOString(),
      }),
    ]);
    expect(severityOf(Reason.PolicyDataUnavailable)).toBe("info");
    expect(Date.parse(r.axis.start)).toBeLessThan(NOW - 400 * DAY);
    expect(Date.parse(r.axis.end)).toBeGreaterThan(NOW + 265 * DAY);
  });

  it("leaves out quiet targets unless asked for all, and says so", () => {
    const quiet: Target = { ...target, id: "q1", appId: "q2", displayName: "quiet" };
    const base = {
      now: NOW,
      tenantId: "t",
      targets: [quiet],
      bindings: [],
      plan: { findings: [], removals: [], held: [] },
      runFindings: [],
      audit: [],
      auditSource: "records",
      graceMs: DAY,
    };
    const r = buildReport(base);
    expect(r.targets).toEqual([]);
    expect(r.omittedTargets).toBe(1);
    expect(renderReportHtml(r)).toContain("rollover report --all");
    expect(buildReport({ ...base, all: true }).targets.map((t) => t.displayName)).toEqual(["quiet"]);
  });

  it("draws each bar where its dates fall on the shared axis, escapes every name, and loads nothing", () => {
    const r = report();
    const html = renderReportHtml(r);
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("evil &lt;script&gt;");
    expect(html).not.toMatch(/\b(?:src|href)="(?:https?:)?\/\//);
    const a = Date.parse(r.axis.start);
    const b = Date.parse(r.axis.end);
    const m = /<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*data-key-id="k1"/.exec(html);
    expect(m).not.toBeNull();
    const x = PLOT.left + ((NOW - 100 * DAY - a) / (b - a)) * PLOT.width;
    const w = ((365 * DAY) / (b - a)) * PLOT.width;
    expect(Number(m?.[1])).toBeCloseTo(x, 1);
    expect(Number(m?.[2])).toBeCloseTo(w, 1);
  });
});

describe("rollover report (usage)", () => {
  it("says where the report goes when neither --html nor --json is given, with exit code 2", async () => {
    const { spawnSync } = await import("node:child_process");
    const root = new URL("../../../", import.meta.url).pathname;
    const r = spawnSync(process.execPath, ["--import", "tsx", "cli/main.ts", "report"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "" },
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--html <file>, --json/);
    const bad = spawnSync(
      process.execPath,
      ["--import", "tsx", "cli/main.ts", "report", "--json", "--since", "soon"],
      {
        cwd: root,
        env: { PATH: process.env.PATH ?? "" },
        encoding: "utf8",
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--since "soon" is not a date/);
  });
});
