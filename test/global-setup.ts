/**
 * Runs once before the test workers start: makes the sandbox CA (kept in a temp dir for this
 * run) and exports NODE_EXTRA_CA_CERTS, which Node reads only at start-up, so that every worker
 * process — and every SDK client in it — trusts the sandbox's HTTPS the way a user's would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTls } from "../sandbox/tls.js";

export default async function setup(): Promise<() => void> {
  const stateDir = mkdtempSync(join(tmpdir(), "rollover-test-ca-"));
  const tls = await ensureTls(stateDir);
  process.env.NODE_EXTRA_CA_CERTS = tls.caCertPath;
  process.env.ROLLOVER_TEST_SANDBOX_STATE = stateDir;
  return () => rmSync(stateDir, { recursive: true, force: true });
}
