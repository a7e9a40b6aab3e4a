/**
 * The common alert schema with Microsoft's samples (alerts-common-schema.md: the metric sample,
 * the Log Alerts V2 context), and where remediateAlert finds its action and target.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AlertParseError, parseCommonAlert } from "../../../shared/remediation/alert.js";

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));

function metricSample() {
  return fixture("alert-common-schema-metric-sample.json") as {
    schemaId: string;
    data: { essentials: Record<string, unknown>; alertContext: unknown; customProperties: unknown };
  };
}

function logAlert(
  custom: Record<string, string> | null,
  dimensions?: Array<{ name: string; value: string }>,
) {
  const body = metricSample();
  const context = fixture("alert-context-log-alerts-v2.json") as {
    condition: { allOf: Array<{ dimensions: unknown }> };
  };
  if (dimensions) context.condition.allOf[0]!.dimensions = dimensions;
  body.data.essentials = {
    ...body.data.essentials,
    signalType: "Log",
    monitoringService: "Log Alerts V2",
    monitorCondition: "Fired",
    alertRule: "Rollover: rotation step failed",
  };
  body.data.alertContext = context;
  body.data.customProperties = custom;
  return body;
}

describe("common alert schema", () => {
  it("reads the doc's metric sample: Resolved, no Rollover properties", () => {
    const a = parseCommonAlert(metricSample());
    expect(a).toEqual({
      alertId:
        "/subscriptions/<subscription ID>/providers/Microsoft.AlertsManagement/alerts/b9569717-bc32-442f-add5-83a997729330",
      alertRule: "WCUS-R2-Gen2",
      monitorCondition: "Resolved",
      signalType: "Metric",
      monitoringService: "Platform",
      firedDateTime: "2019-03-22T13:58:24.3713213Z",
      targets: [],
    });
  });

  it("takes action and target from custom properties, case-insensitively", () => {
    const a = parseCommonAlert(
      logAlert({ "Rollover-Action": "ROTATE", " rollover-target ": "payments-api" }),
    );
    expect(a).toMatchObject({ monitorCondition: "Fired", action: "rotate", targets: ["payments-api"] });
  });

  it("takes targets from the log search dimensions (one per series) when no property names one", () => {
    const a = parseCommonAlert(
      logAlert({ "rollover-action": "sweep" }, [
        { name: "TargetObjectId", value: "a1000000-0000-4000-8000-000000000004" },
        { name: "Computer", value: "TestComputer" },
      ]),
    );
    expect(a).toMatchObject({ action: "sweep", targets: ["a1000000-0000-4000-8000-000000000004"] });
    const b = parseCommonAlert(
      logAlert(null, [
        { name: "rollover-action", value: "rotate" },
        { name: "rollover-target", value: "orders-worker" },
      ]),
    );
    expect(b).toMatchObject({ action: "rotate", targets: ["orders-worker"] });
  });

  it("reads custom properties that log alerts put in alertContext.properties", () => {
    const body = logAlert(null);
    (body.data.alertContext as { properties: unknown }).properties = {
      "rollover-action": "rotate",
      "rollover-target": "payments-api",
    };
    expect(parseCommonAlert(body)).toMatchObject({ action: "rotate", targets: ["payments-api"] });
  });

  it("leaves the action out when the rule sets none (the handler answers 400)", () => {
    const a = parseCommonAlert(logAlert({ Key1: "Value1" }));
    expect(a.action).toBeUndefined();
  });

  it.each([
    ["not an object", [1], /JSON object/],
    ["another schema", { schemaId: "Microsoft.Insights/activityLogs", data: {} }, /schemaId/],
    ["no essentials", { schemaId: "azureMonitorCommonAlertSchema", data: {} }, /essentials/],
    [
      "no alertId",
      { schemaId: "azureMonitorCommonAlertSchema", data: { essentials: { monitorCondition: "Fired" } } },
      /alertId/,
    ],
    [
      "unknown monitorCondition",
      {
        schemaId: "azureMonitorCommonAlertSchema",
        data: { essentials: { alertId: "a", monitorCondition: "Maybe" } },
      },
      /Fired or Resolved/,
    ],
  ])("rejects %s with one line", (_n, body, reason) => {
    let err: unknown;
    try {
      parseCommonAlert(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AlertParseError);
    expect((err as Error).message).toMatch(reason);
    expect((err as Error).message).not.toContain("\n");
  });

  it("rejects an unknown rollover-action", () => {
    expect(() => parseCommonAlert(logAlert({ "rollover-action": "delete", "rollover-target": "x" }))).toThrow(
      /rotate or sweep/,
    );
  });
});
