/**
 * `rollover status` against the sandbox's demo seed, before and after `apply --yes`: golden text
 * (status reads with the clock fixed at the seed's instant; version ids, which Key Vault makes up,
 * are named #v1, #v2, … in order of appearance) and the JSON form. Status changes nothing.
 * Set ROLLOVER_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../sandbox/seeds.js";
import { apply } from "../../cli/run.js";
import { status } from "../../cli/status.js";
import { useSandboxIdentity } from "../helpers/engine.js";
import { useSandbox } from "../helpers/sandbox.js";

const DAY = 86_400_000;
const GOLDEN = new URL("../fixtures/golden/", import.meta.url);

function golden(name: string, actual: string): void {
  const file = new URL(name, GOLDEN);
  if (process.env.ROLLOVER_UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

/** Names Key Vault's random version ids by order of appearance. */
function stable(text: string): string {
  const names = new Map<string, string>();
  return text.replace(/#[0-9a-f]{8}\b/g, (m) => {
    if (!names.has(m)) names.set(m, `#v${names.size + 1}`);
    return names.get(m) as string;
  });
}

describe("rollover status against the demo seed", () => {
  const sb = useSandbox({ seed: "demo", azurite: true });

  async function run(opts: { json?: boolean; color?: boolean } = {}) {
    useSandboxIdentity(sb());
    let text = "";
    const at = fixed;
    const code = await status({ env: sb().env, now: () => at, out: (t) => (text += t), ...opts });
    return { code, text };
  }
  let fixed = 0;

  it("before a run: refusals first, every binding named by its certificate; nothing changes", async () => {
    const { ctx, urls } = sb();
    fixed = ctx.clock.now();
    // The demo seed, plus one binding whose target was deleted: it needs a person.
    await ctx.vault.createCertificate("retired-service", {
      tags: { "rollover-target": "a1000000-0000-4000-8000-0000000000ff" },
      notBefore: Math.floor((fixed - 100 * DAY) / 1000),
      expires: Math.floor((fixed + 265 * DAY) / 1000),
    });
    const versions = ctx.vault.versions(DEMO.apps.payments.certificate).length;
    const keys = ctx.directory.get(urls.tenantId, DEMO.apps.payments.id)!.keyCredentials.length;
    const r = await run();
    golden("status-demo-before.txt", stable(r.text));
    expect(r.code).toBe(1);
    expect(ctx.vault.versions(DEMO.apps.payments.certificate)).toHaveLength(versions);
    expect(ctx.directory.get(urls.tenantId, DEMO.apps.payments.id)!.keyCredentials).toHaveLength(keys);
    expect(ctx.logs.records()).toHaveLength(0);
  });

  it("--json carries the same rows with ISO dates", async () => {
    const r = await run({ json: true });
    const out = JSON.parse(r.text);
    expect(out.at).toBe(new Date(fixed).toISOString());
    const names = out.bindings.map((b: { certificate: string }) => b.certificate);
    expect(names).toContain(DEMO.apps.payments.certificate);
    const first = out.bindings[0];
    expect(first.needsPerson).toBe(true);
    const payments = out.bindings.find(
      (b: { certificate: string }) => b.certificate === DEMO.apps.payments.certificate,
    );
    expect(payments).toMatchObject({ mode: "auto", next: { action: "renew", class: "fine" } });
    expect(payments.newest.expires).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("on a terminal: colour and symbols", async () => {
    const r = await run({ color: true });
    const ESC = "\u001b[";
    expect(r.text).toContain(`${ESC}31m✗ retired-service`);
    expect(r.text).toContain(`${ESC}32m✓ payments-api`);
    const plain = await run();
    expect(plain.text).not.toContain(ESC);
    expect(plain.text).toContain("NEEDS-PERSON retired-service");
  });

  it("after apply --yes: renewed and attached bindings show the new version, its verification and when the old key retires", async () => {
    const { ctx } = sb();
    useSandboxIdentity(sb());
    const a = await apply({ yes: true, sweep: false, json: true, env: sb().env, out: () => {} });
    expect([0, 1, 3]).toContain(a.exitCode);
    fixed = ctx.clock.now();
    const r = await run();
    golden("status-demo-after.txt", stable(r.text));
  });
});
