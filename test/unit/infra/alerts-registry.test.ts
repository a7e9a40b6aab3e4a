/**
 * People are told: every outcome the registry classes `needsPerson` is matched by an alert rule in
 * infra/app/alerts.bicep whose action groups reach people, and the rules for people match nothing
 * that is `fine` or `transient`. The rules' `where` clauses are evaluated here over a record of
 * each code (a small KQL subset: ==, !=, =~, in, !in, isempty, isnotempty, and, or, not, parens).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { AuditAction } from "../../../shared/audit/events.js";
import { type ReasonClass, reasonRegistry } from "../../../shared/core/reasons.js";

const bicep = readFileSync(new URL("../../../infra/app/alerts.bicep", import.meta.url), "utf8");

interface Rule {
  name: string;
  query: string;
  toPeople: boolean;
}

function rules(source: string): Rule[] {
  const out: Rule[] = [];
  const re = /^resource (\w+) 'Microsoft\.Insights\/scheduledQueryRules@[^']+' = \{$/gm;
  const starts = [...source.matchAll(re)];
  for (const [i, m] of starts.entries()) {
    const body = source.slice(m.index, starts[i + 1]?.index ?? source.length);
    const query = /query: '((?:[^'\\]|\\.)*)'/.exec(body)?.[1];
    const groups = /actionGroups: ([^\n]+)/.exec(body)?.[1] ?? "";
    if (!query) throw new Error(`rule ${m[1]} has no query`);
    out.push({ name: m[1] as string, query, toPeople: /\bpeopleGroups\b/.test(groups) });
  }
  return out;
}

type Row = Record<string, string>;

/** Tokens of a KQL predicate. */
function tokens(s: string): string[] {
  const out: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|!in\b|==|!=|=~|[(),]|[A-Za-z_][\w]*)/y;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) {
      if (/^\s*$/.test(s.slice(i))) break;
      throw new Error(`cannot read KQL at: ${s.slice(i)}`);
    }
    out.push(m[1] as string);
    i = re.lastIndex;
  }
  return out;
}

function predicate(text: string): (row: Row) => boolean {
  const t = tokens(text);
  let p = 0;
  const peek = () => t[p];
  const next = () => t[p++] as string;
  const expect_ = (x: string) => {
    if (next() !== x) throw new Error(`expected ${x} in ${text}`);
  };
  const str = (tok: string) => {
    if (!tok.startsWith('"')) throw new Error(`expected a string, got ${tok}`);
    return JSON.parse(tok) as string;
  };
  type P = (r: Row) => boolean;
  const orExpr = (): P => {
    let left = andExpr();
    while (peek() === "or") {
      next();
      const l = left;
      const r = andExpr();
      left = (row) => l(row) || r(row);
    }
    return left;
  };
  const andExpr = (): P => {
    let left = unary();
    while (peek() === "and") {
      next();
      const l = left;
      const r = unary();
      left = (row) => l(row) && r(row);
    }
    return left;
  };
  const unary = (): P => {
    if (peek() === "not") {
      next();
      expect_("(");
      const e = orExpr();
      expect_(")");
      return (row) => !e(row);
    }
    if (peek() === "(") {
      next();
      const e = orExpr();
      expect_(")");
      return e;
    }
    const id = next();
    if (id === "isnotempty" || id === "isempty") {
      expect_("(");
      const col = next();
      expect_(")");
      return id === "isempty" ? (row) => !row[col] : (row) => !!row[col];
    }
    const op = next();
    if (op === "in" || op === "!in") {
      expect_("(");
      const values: string[] = [str(next())];
      while (peek() === ",") {
        next();
        values.push(str(next()));
      }
      expect_(")");
      return op === "in" ? (row) => values.includes(row[id] ?? "") : (row) => !values.includes(row[id] ?? "");
    }
    const v = str(next());
    if (op === "==") return (row) => (row[id] ?? "") === v;
    if (op === "!=") return (row) => (row[id] ?? "") !== v;
    if (op === "=~") return (row) => (row[id] ?? "").toLowerCase() === v.toLowerCase();
    throw new Error(`unknown operator ${op} in ${text}`);
  };
  const e = orExpr();
  if (p !== t.length) throw new Error(`unread KQL in ${text}: ${t.slice(p).join(" ")}`);
  return e;
}

/** Whether a row passes every `where` of a query. */
function matches(query: string, row: Row): boolean {
  const wheres = query
    .split("|")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("where "))
    .map((s) => predicate(s.slice("where ".length)));
  return wheres.every((w) => w(row));
}

const ACTIONS: AuditAction[] = [
  "renew",
  "attach",
  "verify",
  "retire",
  "refuse",
  "wait",
  "sweepFinding",
  "sweepRemoval",
  "sweepDeferred",
  "eventRejected",
  "eventIgnored",
  "alert",
  "error",
];

/** Records of a code as Rollover writes them: any action, with or without a target. */
function rowsOf(code: string, cls: ReasonClass): Row[] {
  return ACTIONS.flatMap((Action) =>
    ["", "0f6b4c7e-0000-4000-8000-000000000001"].map((TargetObjectId) => ({
      Reason: code,
      ReasonClass: cls,
      Action,
      Outcome: "skipped",
      TargetObjectId,
    })),
  );
}

describe("alert rules and the reason registry", () => {
  const all = rules(bicep);
  const forPeople = all.filter((r) => r.toPeople);

  it("reads the rules of infra/app/alerts.bicep", () => {
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(forPeople.length).toBeGreaterThanOrEqual(1);
  });

  it("every needsPerson code is matched by a rule that reaches people", () => {
    const unmatched = reasonRegistry()
      .filter((r) => r.class === "needsPerson")
      .filter(
        (r) => !rowsOf(r.code, r.class).some((row) => forPeople.some((rule) => matches(rule.query, row))),
      )
      .map((r) => r.code);
    expect(unmatched).toEqual([]);
  });

  it("no rule for people fires on a fine or transient outcome that did not fail", () => {
    const noisy = reasonRegistry()
      .filter((r) => r.class !== "needsPerson")
      .filter((r) =>
        rowsOf(r.code, r.class).some((row) => forPeople.some((rule) => matches(rule.query, row))),
      )
      .map((r) => r.code);
    expect(noisy).toEqual([]);
  });

  it("a binding whose steps keep failing reaches people; a single failure goes to remediation", () => {
    const failed = {
      Reason: "AttachNewVersion",
      ReasonClass: "fine",
      Action: "attach",
      Outcome: "failed",
      TargetObjectId: "t",
    };
    const rulesFor = (row: Row) => all.filter((r) => matches(r.query, row));
    expect(rulesFor(failed).some((r) => r.toPeople)).toBe(true);
    expect(rulesFor(failed).some((r) => !r.toPeople)).toBe(true);
    const keepsFailing = rulesFor(failed).find((r) => r.toPeople)!;
    const body = bicep.slice(bicep.indexOf(`resource ${keepsFailing.name} `));
    expect(body.slice(0, body.indexOf("\nresource ", 1))).toMatch(/threshold: [1-9]/);
  });

  it("ExpiringUnbound goes to people, not to a sweep", () => {
    const rule = all.find((r) => r.query.includes('"ExpiringUnbound"') && !r.query.includes("!="));
    expect(rule?.toPeople).toBe(true);
    const body = bicep.slice(bicep.indexOf(`resource ${rule?.name} `));
    const end = body.indexOf("\nresource ", 1);
    expect(body.slice(0, end < 0 ? undefined : end)).not.toMatch(/'rollover-action': 'sweep'/);
  });

  it("the action groups for people have e-mail receivers and take an existing action group", () => {
    expect(bicep).toMatch(/param alertEmails string/);
    expect(bicep).toMatch(/param peopleActionGroupId string/);
    // Someone is told even when no address is given: the subscription's Owners, by default.
    expect(bicep).toMatch(/param notifyOwners bool = true/);
    expect(bicep).toMatch(/armRoleReceivers: notifyOwners/);
    // The Owner role id only names whom to e-mail (no role assignment in this file).
    expect(bicep.match(/\bownerRoleId\b/g)).toHaveLength(2);
    expect(bicep).toMatch(/roleId: ownerRoleId/);
    expect(bicep).not.toMatch(/Microsoft\.Authorization\/roleAssignments/);
    expect(bicep).toMatch(/emailReceivers: \[/);
    expect(bicep).toMatch(/var peopleGroups = concat\(/);
  });

  it("the KQL subset reads what it is given", () => {
    const q = 'T | where ReasonClass == "needsPerson" and Reason != "X" | summarize n = count() by Reason';
    expect(matches(q, { ReasonClass: "needsPerson", Reason: "Y" })).toBe(true);
    expect(matches(q, { ReasonClass: "needsPerson", Reason: "X" })).toBe(false);
    expect(matches(q, { ReasonClass: "fine", Reason: "Y" })).toBe(false);
    const r =
      'T | where Outcome == "failed" and Action in ("renew", "attach") and isnotempty(TargetObjectId)';
    expect(matches(r, { Outcome: "failed", Action: "attach", TargetObjectId: "x" })).toBe(true);
    expect(matches(r, { Outcome: "failed", Action: "sweepFinding", TargetObjectId: "x" })).toBe(false);
    expect(matches(r, { Outcome: "failed", Action: "attach", TargetObjectId: "" })).toBe(false);
  });
});
