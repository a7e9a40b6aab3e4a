/**
 * `rollover config --for apply` reads Rollover's Microsoft Graph grants (its service principal's
 * app role assignments, with Application.Read.All) from the sandbox and prints the admin step
 * when one is missing.
 */
import { describe, expect, it } from "vitest";
import { configCheck } from "../../../cli/config.js";
import { useSandboxIdentity } from "../../helpers/engine.js";
import { useSandbox } from "../../helpers/sandbox.js";

const sb = useSandbox({ seed: "demo" });

function env(extra: Record<string, string> = {}): Record<string, string> {
  useSandboxIdentity(sb());
  return { ...sb().env, AzureWebJobsStorage: "UseDevelopmentStorage=true", ...extra };
}

async function run(e: Record<string, string>) {
  let text = "";
  const code = await configCheck({ purposes: ["apply"], env: e, out: (t) => (text += t) });
  return { code, text };
}

describe("rollover config --for apply: Microsoft Graph grants", () => {
  it("in place: Application.Read.All (and OwnedBy in managed mode, as the demo grants)", async () => {
    const plain = await run(env({ ROLLOVER_MANAGED_MODE: "false" }));
    expect(plain.code).toBe(0);
    expect(plain.text).toContain("Microsoft Graph grants: in place (Application.Read.All).");
    const managed = await run(env({ ROLLOVER_MANAGED_MODE: "true" }));
    expect(managed.code).toBe(0);
    expect(managed.text).toContain(
      "Microsoft Graph grants: in place (Application.Read.All, Application.ReadWrite.OwnedBy).",
    );
  });

  it("missing: exit 1 with the az rest and PowerShell commands and the portal path", async () => {
    const { ctx } = sb();
    const t = ctx.directory.defaultTenantId;
    const app = ctx.directory.createApplication(t, { displayName: "ungranted" });
    const sp = ctx.directory.findByAppId(t, app.appId, "servicePrincipal")!;
    const r = await run(
      env({ ROLLOVER_IDENTITY_OBJECT_ID: sp.id.toUpperCase(), ROLLOVER_MANAGED_MODE: "true" }),
    );
    expect(r.code).toBe(1);
    expect(r.text).toContain(
      `Microsoft Graph grants: missing Application.Read.All, Application.ReadWrite.OwnedBy on ${sp.id}.`,
    );
    expect(r.text).toContain(
      `az rest --method POST --uri ${sb().urls.graphBaseUrl.replace(/\/+$/, "")}/v1.0/servicePrincipals/${sp.id}/appRoleAssignments`,
    );
    expect(r.text).toContain('\\"appRoleId\\":\\"9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30\\"');
    expect(r.text).toContain('\\"appRoleId\\":\\"18a4783c-866b-4cc7-a460-3d5e5662c884\\"');
    expect(r.text).toContain(
      `New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId ${sp.id} -PrincipalId ${sp.id} -ResourceId $graphSp.Id -AppRoleId 9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30`,
    );
    expect(r.text).toMatch(/Portal: Microsoft Entra admin center → Enterprise applications/);
  });

  it("--for plan reads no grants", async () => {
    let text = "";
    const code = await configCheck({ purposes: ["plan"], env: env(), out: (t) => (text += t) });
    expect(code).toBe(0);
    expect(text).not.toMatch(/Microsoft Graph grants/);
  });
});
