/**
 * Azure Monitor's common alert schema (`azureMonitorCommonAlertSchema`): what remediateAlert
 * reads. The alert rule says what to do through custom properties (or, for log search alerts, a
 * dimension of the query): `rollover-action` = `rotate` | `sweep` and `rollover-target` = a
 * binding's Key Vault certificate name or a target's object id. Keys are read case-insensitively.
 */
import { z } from "zod";

export class AlertParseError extends Error {
  override name = "AlertParseError";
}

export type RemediationAction = "rotate" | "sweep";

export interface ParsedAlert {
  alertId: string;
  alertRule?: string;
  monitorCondition: "Fired" | "Resolved";
  signalType?: string;
  monitoringService?: string;
  firedDateTime?: string;
  action?: RemediationAction;
  /** Targets named by the custom property or by the dimensions (one per alerting series). */
  targets: string[];
}

const ACTION_KEYS = ["rollover-action"];
/** `rollover-target`, and the dimension names of the shipped log search rules. */
const TARGET_KEYS = ["rollover-target", "targetobjectid", "certificatename"];

const essentials = z.object({
  alertId: z.string().trim().min(1, "data.essentials.alertId is required"),
  alertRule: z.string().optional(),
  severity: z.string().optional(),
  signalType: z.string().optional(),
  monitorCondition: z
    .string()
    .trim()
    .refine(
      (s) => /^(fired|resolved)$/i.test(s),
      "data.essentials.monitorCondition must be Fired or Resolved",
    ),
  monitoringService: z.string().optional(),
  alertTargetIDs: z.array(z.string()).nullish(),
  firedDateTime: z.string().optional(),
});

const commonAlert = z.object({
  schemaId: z
    .string()
    .refine((s) => s === "azureMonitorCommonAlertSchema", "schemaId must be azureMonitorCommonAlertSchema"),
  data: z.object({
    essentials,
    alertContext: z.unknown().optional(),
    customProperties: z.record(z.string(), z.unknown()).nullish(),
  }),
});

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function lookup(o: Record<string, unknown> | null | undefined, keys: readonly string[]): string | undefined {
  if (!o) return undefined;
  for (const [k, v] of Object.entries(o)) {
    if (keys.includes(k.trim().toLowerCase()) && typeof v === "string" && v.trim()) return v.trim();
  }
  return undefined;
}

/** `{name, value}` dimensions of every condition (metric and log search alerts). */
function dimensionsOf(alertContext: unknown): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  if (!isObject(alertContext)) return out;
  const condition = alertContext.condition;
  const allOf = isObject(condition) && Array.isArray(condition.allOf) ? condition.allOf : [];
  for (const c of allOf) {
    if (!isObject(c) || !Array.isArray(c.dimensions)) continue;
    for (const d of c.dimensions) {
      if (isObject(d) && typeof d.name === "string" && typeof d.value === "string") {
        out.push({ name: d.name.trim().toLowerCase(), value: d.value.trim() });
      }
    }
  }
  return out;
}

function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  if (!i) return "invalid alert";
  const msg = i.message;
  return msg.includes("data.") || msg.startsWith("schemaId") ? msg : `${i.path.join(".")}: ${msg}`;
}

/** Parses a common-schema alert body (already JSON-parsed). Throws AlertParseError with one line. */
export function parseCommonAlert(body: unknown): ParsedAlert {
  if (!isObject(body)) throw new AlertParseError("the body must be a JSON object (common alert schema)");
  const r = commonAlert.safeParse(body);
  if (!r.success) throw new AlertParseError(firstIssue(r.error));
  const { essentials: e, alertContext, customProperties } = r.data.data;
  const contextProps =
    isObject(alertContext) && isObject(alertContext.properties) ? alertContext.properties : undefined;
  const dims = dimensionsOf(alertContext);
  const rawAction =
    lookup(customProperties, ACTION_KEYS) ??
    lookup(contextProps, ACTION_KEYS) ??
    dims.find((d) => ACTION_KEYS.includes(d.name))?.value;
  let action: RemediationAction | undefined;
  if (rawAction !== undefined) {
    const a = rawAction.toLowerCase();
    if (a !== "rotate" && a !== "sweep") {
      throw new AlertParseError(`rollover-action must be rotate or sweep, not "${rawAction.slice(0, 40)}"`);
    }
    action = a;
  }
  const fromProps = lookup(customProperties, TARGET_KEYS) ?? lookup(contextProps, TARGET_KEYS);
  const targets = fromProps
    ? [fromProps]
    : [...new Set(dims.filter((d) => TARGET_KEYS.includes(d.name) && d.value).map((d) => d.value))];
  return {
    alertId: e.alertId,
    ...(e.alertRule ? { alertRule: e.alertRule } : {}),
    monitorCondition: /^fired$/i.test(e.monitorCondition) ? "Fired" : "Resolved",
    ...(e.signalType ? { signalType: e.signalType } : {}),
    ...(e.monitoringService ? { monitoringService: e.monitoringService } : {}),
    ...(e.firedDateTime ? { firedDateTime: e.firedDateTime } : {}),
    ...(action ? { action } : {}),
    targets,
  };
}
