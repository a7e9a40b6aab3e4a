/**
 * `rollover report --html` on the demo tenant, opened in a real browser: headless Chromium from
 * Debian's `chromium` package (installed by .ci/run), driven by playwright-core with
 * `executablePath` — no browser download. The page is loaded from disk; the test checks that each
 * demo target appears with its credentials, that every timeline bar starts and ends where its
 * credential's dates fall on the axis, that the page logs no console error and asks the network
 * for nothing, and saves a screenshot under test-results/report/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, DEMO_INSIGHT } from "../../sandbox/seeds.js";
import { Reason } from "../../shared/core/reasons.js";
import { ROOT, rollover } from "../helpers/cli.js";
import { useSandbox } from "../helpers/sandbox.js";

const CHROMIUM = process.env.ROLLOVER_CHROMIUM ?? "/usr/bin/chromium";
const OUT = join(ROOT, "test-results", "report");
const DEMO_TARGETS = [
  DEMO.apps.payments,
  DEMO.apps.orders,
  DEMO.apps.reporting,
  DEMO.apps.legacy,
  DEMO.apps.marketing,
  DEMO.blueprint,
  DEMO_INSIGHT.billing,
  DEMO_INSIGHT.inventory,
  DEMO_INSIGHT.directorySync,
];

describe.skipIf(!existsSync(CHROMIUM))("rollover report in a browser", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });
  let file = "";
  // biome-ignore lint/suspicious/noExplicitAny: the report's JSON, read field by field
  let json: any;

  beforeAll(async () => {
    const env = { PATH: process.env.PATH ?? "", ...sb().env, ROLLOVER_MANAGED_MODE: "true" };
    // Rotations and removals for the audit trail: rotate what is due, then sweep in remove mode.
    const applied = await rollover(["apply", "--yes", "--no-sweep", "--json"], env);
    expect([0, 3], applied.stderr).toContain(applied.code);
    // legacy-portal is not Rollover's to change (as in `rollover demo`): on the deny list. The
    // first sweep sees the candidates; past the grace window (1 h here) the second removes them.
    const sweepEnv = { ...env, ROLLOVER_DENY_LIST: DEMO.apps.legacy.id, ROLLOVER_GRACE_HOURS: "1" };
    const seen = await rollover(["sweep", "--apply", "--json"], sweepEnv);
    expect([0, 3], seen.stderr).toContain(seen.code);
    await sb().ctx.clock.advance(2 * 3_600_000);
    const swept = await rollover(["sweep", "--apply", "--json"], sweepEnv);
    expect([0, 3], swept.stderr).toContain(swept.code);
    expect(JSON.parse(swept.stdout).sweep.removed, swept.stdout).toBeGreaterThan(0);
    // `rollover sweep` shows the new findings on the demo tenant.
    const findings = JSON.parse(swept.stdout).sweep.findings;
    for (const r of [
      Reason.HighPrivilegeCredential,
      Reason.CredentialUnused,
      Reason.CredentialNeverUsed,
      Reason.SecretRestrictedByPolicy,
    ])
      expect(findings[r], r).toBeGreaterThan(0);
    const text = await rollover(["sweep"], env);
    expect(text.stdout).toMatch(/findings: HighPrivilegeCredential 1,/);
    file = join(mkdtempSync(join(tmpdir(), "rollover-report-")), "report.html");
    const r = await rollover(["report", "--html", file, "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    json = JSON.parse(r.stdout);
  }, 180_000);

  it("the JSON has the same data: targets, findings (powerful first), totals", () => {
    expect(json.totals.rotations).toBeGreaterThan(0);
    expect(json.totals.removals).toBeGreaterThan(0);
    expect(json.findings[0].reason).toBe(Reason.HighPrivilegeCredential);
    const reasons = new Set(json.findings.map((f: { reason: string }) => f.reason));
    for (const r of [Reason.CredentialUnused, Reason.CredentialNeverUsed, Reason.SecretRestrictedByPolicy])
      expect(reasons).toContain(r);
    const html = readFileSync(file, "utf8");
    expect(html).not.toMatch(/<(?:link|img|iframe)\b|src="http|href="http|@import|url\(http/i);
  });

  it("opens from disk in Chromium: every demo target and credential, bars on their dates, no errors, no network", async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(e.message));
      const url = pathToFileURL(file).href;
      page.on("request", (req) => {
        if (req.url() !== url) requests.push(req.url());
      });
      await page.goto(url);
      await page.waitForLoadState("load");

      const { ctx, urls } = sb();
      for (const app of DEMO_TARGETS) {
        const section = page.locator(`section#target-${app.id}`);
        await expect(section.locator("h3").textContent()).resolves.toBe(app.displayName);
        const o = ctx.directory.get(urls.tenantId, app.id)!;
        for (const k of [...o.keyCredentials, ...o.passwordCredentials]) {
          const bar = section.locator(`rect.bar[data-key-id="${k.keyId}"]`);
          await expect(bar.count()).resolves.toBe(1);
          // The bar's left and right edges sit where the credential's dates fall on the axis.
          const g = await bar.evaluate((el) => {
            const svg = (el as SVGGraphicsElement).ownerSVGElement!;
            const s = svg.getBoundingClientRect();
            const b = el.getBoundingClientRect();
            return {
              left: b.left - s.left,
              right: b.right - s.left,
              scale: s.width / Number(svg.getAttribute("width")),
              axisStart: Date.parse(svg.dataset.axisStart!),
              axisEnd: Date.parse(svg.dataset.axisEnd!),
              plotLeft: Number(svg.dataset.plotLeft),
              plotWidth: Number(svg.dataset.plotWidth),
            };
          });
          const at = (iso: string) =>
            (g.plotLeft + ((Date.parse(iso) - g.axisStart) / (g.axisEnd - g.axisStart)) * g.plotWidth) *
            g.scale;
          expect(Math.abs(g.left - at(k.startDateTime)), `${app.displayName} ${k.keyId} start`).toBeLessThan(
            1.5,
          );
          expect(Math.abs(g.right - at(k.endDateTime)), `${app.displayName} ${k.keyId} end`).toBeLessThan(
            1.5,
          );
        }
      }
      // The findings table sorts and filters.
      const rows = page.locator("#findings tbody tr:not([hidden])");
      const all = await rows.count();
      await page.selectOption("#f-sev", "high");
      const high = await rows.count();
      expect(high).toBeGreaterThan(0);
      expect(high).toBeLessThan(all);
      await expect(page.locator("#f-count").textContent()).resolves.toBe(`${high} of ${all} shown`);
      await page.selectOption("#f-sev", "");
      await page.click("#findings th button[data-col='2']");
      await expect(page.locator("#findings th").nth(2).getAttribute("aria-sort")).resolves.toBe("ascending");

      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: join(OUT, "report.png"), fullPage: false });
      await page.locator("#timelines-h").scrollIntoViewIfNeeded();
      await page.evaluate(() => document.getElementById("timelines-h")?.scrollIntoView());
      await page.screenshot({ path: join(OUT, "report-timelines.png"), fullPage: false });
      if (process.env.ROLLOVER_REPORT_SCREENSHOT)
        await page.screenshot({ path: process.env.ROLLOVER_REPORT_SCREENSHOT, fullPage: false });
      expect(existsSync(join(OUT, "report.png"))).toBe(true);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
