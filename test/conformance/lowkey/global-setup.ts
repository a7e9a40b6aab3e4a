/**
 * Global setup of the Lowkey Vault lane (vitest.lowkey.config.ts): makes the sandbox CA, starts
 * Lowkey Vault on free ports and trusts both for the test workers only, through
 * NODE_EXTRA_CA_CERTS (read by Node at start-up, so it is set before the workers are forked).
 * Product code keeps full TLS verification. Without Java 25 or the app jar the lane is skipped
 * and says why (LOWKEY_SKIP); with both, or with LOWKEY_REQUIRED=1, a lane that cannot run fails.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTls } from "../../../sandbox/tls.js";
import { findJar, findJava, LOWKEY_JAVA_MAJOR, type LowkeyHandle, startLowkey } from "./lowkey.js";

export default async function setup(): Promise<() => Promise<void>> {
  const stateDir = mkdtempSync(join(tmpdir(), "rollover-lowkey-"));
  const tls = await ensureTls(stateDir);
  process.env.ROLLOVER_TEST_SANDBOX_STATE = stateDir;
  process.env.NODE_EXTRA_CA_CERTS = tls.caCertPath;
  let lowkey: LowkeyHandle | undefined;
  const java = findJava();
  const jar = findJar();
  // With Java 25 and the jar at hand the lane must run: a lane that does not is a failure, not a
  // skip (LOWKEY_REQUIRED=1, set by .ci/run, makes any skip one).
  const runnable = !!java && java.major >= LOWKEY_JAVA_MAJOR && !!jar;
  if (!java) {
    process.env.LOWKEY_SKIP = "no Java found (LOWKEY_JAVA, /usr/lib/jvm/*, JAVA_HOME or java on PATH)";
  } else if (java.major < LOWKEY_JAVA_MAJOR) {
    process.env.LOWKEY_SKIP = `the jar needs Java ${LOWKEY_JAVA_MAJOR}; the newest found is ${java.java} (Java ${java.major})`;
  } else if (!jar) {
    process.env.LOWKEY_SKIP =
      "no Lowkey Vault app jar: put it at ../shared/tools/lowkey-vault/lowkey-vault-app.jar, set LOWKEY_VAULT_JAR, or build one (test/conformance/lowkey/fetch.sh --from-source DIR)";
  } else {
    try {
      lowkey = await startLowkey({
        jar,
        java: java.java,
        log: (l) => process.stderr.write(`[lowkey] ${l}\n`),
      });
      const bundle = join(stateDir, "trust.pem");
      writeFileSync(bundle, `${readFileSync(tls.caCertPath, "utf8")}\n${lowkey.certPem}`);
      process.env.NODE_EXTRA_CA_CERTS = bundle;
      process.env.LOWKEY_VAULT_URL = lowkey.vaultUrl;
      process.env.LOWKEY_INFO = JSON.stringify({
        jar,
        java: java.java,
        javaMajor: java.major,
        startMs: lowkey.startMs,
      });
    } catch (e) {
      process.env.LOWKEY_SKIP = `Lowkey Vault did not start with ${java.java} (Java ${java.major}): ${(e as Error).message.split("\n")[0]}`;
    }
  }
  const skip = process.env.LOWKEY_SKIP;
  if (skip && (runnable || process.env.LOWKEY_REQUIRED === "1")) {
    rmSync(stateDir, { recursive: true, force: true });
    throw new Error(`Lowkey Vault lane required but not run: ${skip}`);
  }
  if (skip) process.stderr.write(`[lowkey] lane skipped: ${skip}\n`);
  return async () => {
    await lowkey?.close();
    rmSync(stateDir, { recursive: true, force: true });
  };
}
