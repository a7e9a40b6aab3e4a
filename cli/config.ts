/**
 * `rollover config`: checks the settings for what will run (`--for plan|apply|serve`, all when
 * not given) and exits 2 naming every missing or malformed setting. For `apply` and `serve` it
 * then reads Rollover's Microsoft Graph grants (app role assignments on its service principal,
 * with Application.Read.All) and, when one is missing, prints the admin step that grants it.
 */
import { buildRollover } from "../shared/app.js";
import { loadConfig, type Purpose, PURPOSES, requiredFor } from "../shared/config.js";
import { grantInstructions, missingGraphRoles, requiredGraphRoles } from "../shared/core/grants.js";
import { errorSummary } from "../shared/errors.js";
import { EXIT } from "./run.js";
import { UsageError } from "./errors.js";

export function parsePurposes(values: readonly string[] | undefined): Purpose[] {
  const out: Purpose[] = [];
  for (const v of (values ?? []).flatMap((x) => x.split(","))) {
    const p = v.trim().toLowerCase();
    if (!(PURPOSES as readonly string[]).includes(p))
      throw new UsageError(`--for "${v}" is not a purpose; use ${PURPOSES.join(", ")} (e.g. --for apply)`);
    if (!out.includes(p as Purpose)) out.push(p as Purpose);
  }
  return out;
}

export interface ConfigCheckOptions {
  purposes: readonly Purpose[];
  env?: NodeJS.ProcessEnv;
  out?: (text: string) => void;
}

/** Returns the exit code; bad settings throw ConfigError (exit 2, every problem named). */
export async function configCheck(opts: ConfigCheckOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? ((t: string) => process.stdout.write(t));
  const purposes = opts.purposes.length > 0 ? opts.purposes : PURPOSES;
  const config = loadConfig(env, requiredFor(purposes, env));
  out(`Settings are complete and valid for ${purposes.join(", ")}.\n`);
  if (!purposes.includes("apply") && !purposes.includes("serve")) return EXIT.ok;

  const principalId = config.identityObjectId as string;
  const needed = requiredGraphRoles({ managedMode: config.managedMode });
  const r = buildRollover(env);
  let assigned: string[];
  try {
    assigned = await r.graph.appRoleIds(r.graph.client(r.credential), principalId);
  } catch (e) {
    out(
      [
        `Microsoft Graph grants: cannot read the app role assignments of ${principalId} (${errorSummary(e)}).`,
        "Reading them takes Application.Read.All, which Rollover's identity needs anyway.",
        grantInstructions({ principalId, roles: needed, graphBaseUrl: config.graphBaseUrl }),
        "",
      ].join("\n"),
    );
    return EXIT.failed;
  }
  const missing = missingGraphRoles(assigned, needed);
  if (missing.length === 0) {
    out(`Microsoft Graph grants: in place (${needed.join(", ")}).\n`);
    return EXIT.ok;
  }
  out(
    [
      `Microsoft Graph grants: missing ${missing.join(", ")} on ${principalId}.`,
      grantInstructions({ principalId, roles: missing, graphBaseUrl: config.graphBaseUrl }),
      "",
    ].join("\n"),
  );
  return EXIT.failed;
}
