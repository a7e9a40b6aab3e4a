/**
 * `rollover report --html`: one self-contained HTML file — inline CSS, hand-drawn inline SVG and a
 * small inline script, no network, no fonts, no library — that opens from disk and prints.
 *
 * Every timeline shares one time axis (the report's `axis`): a bar's `x` and `width` are the
 * credential's start and end on that axis, so bars line up across targets. Each timeline has a
 * table with the same facts, for screen readers and for print; the findings table sorts and
 * filters with the keyboard (native buttons, inputs and selects) and still reads without script.
 */
import { type Report, type ReportTarget, SEVERITIES, type Severity } from "./model.js";

/** Plot geometry (SVG user units = CSS pixels: the SVG has no viewBox scaling). */
export const PLOT = { left: 230, width: 700, right: 20, row: 22, top: 28, bottom: 24 } as const;

const COLORS: Record<Severity | "none", string> = {
  high: "#b3261e",
  medium: "#8a5300",
  low: "#1f5fa8",
  info: "#5f6368",
  none: "#2e7d32",
};

function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const day = (iso: string) => iso.slice(0, 10);

function scale(report: Report): (iso: string) => number {
  const a = Date.parse(report.axis.start);
  const b = Date.parse(report.axis.end);
  return (iso: string) => PLOT.left + ((Date.parse(iso) - a) / (b - a)) * PLOT.width;
}

function ticks(report: Report): string[] {
  const a = new Date(report.axis.start);
  const b = Date.parse(report.axis.end);
  const out: string[] = [];
  const d = new Date(Date.UTC(a.getUTCFullYear(), a.getUTCMonth() + 1, 1));
  const months = (b - a.getTime()) / (30 * 86_400_000);
  const step = months > 36 ? 6 : months > 12 ? 3 : 1;
  while (d.getTime() < b) {
    if (d.getUTCMonth() % step === 0) out.push(d.toISOString());
    d.setUTCMonth(d.getUTCMonth() + 1);
  }
  return out;
}

function credentialLabel(c: ReportTarget["credentials"][number]): string {
  const name = c.displayName
    ? ` ${c.displayName.length > 18 ? `${c.displayName.slice(0, 17)}…` : c.displayName}`
    : "";
  return `${c.kind === "certificate" ? "cert" : "secret"}${name}`;
}

function timeline(report: Report, t: ReportTarget, index: number): string {
  const x = scale(report);
  const rows = Math.max(1, t.credentials.length);
  const height = PLOT.top + rows * PLOT.row + PLOT.bottom;
  const width = PLOT.left + PLOT.width + PLOT.right;
  const parts: string[] = [];
  const titleId = `tl-title-${index}`;
  const descId = `tl-desc-${index}`;
  parts.push(
    `<svg class="timeline" width="${width}" height="${height}" role="img" aria-labelledby="${titleId} ${descId}" data-axis-start="${report.axis.start}" data-axis-end="${report.axis.end}" data-plot-left="${PLOT.left}" data-plot-width="${PLOT.width}" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="${titleId}">Timeline of ${esc(t.displayName)}</title>`,
    `<desc id="${descId}">${t.credentials.length} credentials, ${t.events.length} rotations and removals, ${t.graceWindows.length} grace windows; the table below lists the same.</desc>`,
    `<rect class="plot" x="${PLOT.left}" y="${PLOT.top - 8}" width="${PLOT.width}" height="${rows * PLOT.row + 8}" fill="#f6f8fa" stroke="#d0d7de"/>`,
  );
  for (const tick of ticks(report)) {
    const tx = x(tick).toFixed(2);
    parts.push(
      `<line x1="${tx}" x2="${tx}" y1="${PLOT.top - 8}" y2="${PLOT.top + rows * PLOT.row}" stroke="#d0d7de" stroke-width="1"/>`,
      `<text x="${tx}" y="${height - 8}" class="tick" text-anchor="middle">${tick.slice(0, 7)}</text>`,
    );
  }
  for (const g of t.graceWindows) {
    const gx = x(g.start);
    parts.push(
      `<rect class="grace" x="${gx.toFixed(2)}" y="${PLOT.top - 8}" width="${Math.max(1, x(g.end) - gx).toFixed(2)}" height="${rows * PLOT.row + 8}" fill="#6f42c1" fill-opacity="0.15" data-start="${g.start}" data-end="${g.end}"><title>${esc(g.label)}: ${day(g.start)} to ${day(g.end)}</title></rect>`,
    );
  }
  t.credentials.forEach((c, i) => {
    const y = PLOT.top + i * PLOT.row;
    const bx = x(c.start);
    const bw = Math.max(1, x(c.end) - bx);
    const color = c.removedAt ? "#8c959f" : COLORS[c.severity ?? "none"];
    const dash = c.kind === "secret" ? ` stroke-dasharray="4 2"` : "";
    parts.push(
      `<text x="${PLOT.left - 8}" y="${y + 14}" class="label" text-anchor="end">${c.removedAt ? "removed " : ""}${esc(credentialLabel(c))} ${esc(c.keyId.slice(0, 8))}</text>`,
      `<rect class="bar" x="${bx.toFixed(2)}" y="${y + 3}" width="${bw.toFixed(2)}" height="${PLOT.row - 8}" rx="3" fill="${color}" fill-opacity="0.85" stroke="${color}"${dash} data-key-id="${esc(c.keyId)}" data-start="${c.start}" data-end="${c.end}" data-severity="${c.severity ?? "none"}"${c.removedAt ? ` data-removed="${c.removedAt}"` : ""}><title>${esc(c.kind)} ${esc(c.keyId)}: ${day(c.start)} to ${day(c.end)}${c.severity ? ` (${c.severity} finding)` : ""}${c.boundTo ? `, renewed from ${esc(c.boundTo)}` : ""}${c.removedAt ? `, removed ${day(c.removedAt)}` : ""}</title></rect>`,
    );
  });
  for (const e of t.events) {
    const ex = x(e.time);
    const row = e.keyId ? t.credentials.findIndex((c) => c.keyId === e.keyId) : -1;
    const y = PLOT.top + Math.max(row, 0) * PLOT.row;
    const shape =
      e.kind === "removal"
        ? `<path d="M ${(ex - 5).toFixed(2)} ${y + 3} l 10 12 m 0 -12 l -10 12" stroke="#b3261e" stroke-width="2.5"/>`
        : `<path d="M ${ex.toFixed(2)} ${y + 1} l 5 8 l -5 8 l -5 -8 z" fill="#24292f"/>`;
    parts.push(
      `<g class="event" data-kind="${e.kind}" data-action="${esc(e.action)}" data-time="${e.time}">${shape}<title>${esc(e.action)} ${day(e.time)}: ${esc(e.message)}</title></g>`,
    );
  }
  const nx = x(report.generatedAt).toFixed(2);
  parts.push(
    `<line class="now" x1="${nx}" x2="${nx}" y1="${PLOT.top - 12}" y2="${PLOT.top + rows * PLOT.row + 4}" stroke="#24292f" stroke-width="1.5" stroke-dasharray="3 3"/>`,
    `<text x="${nx}" y="${PLOT.top - 14}" class="tick" text-anchor="middle">now</text>`,
    "</svg>",
  );
  return parts.join("\n");
}

function credentialTable(t: ReportTarget): string {
  const rows = t.credentials
    .map(
      (c) =>
        `<tr><td>${c.kind}</td><td><code>${esc(c.keyId)}</code></td><td>${esc(c.displayName ?? "")}</td><td>${day(c.start)}</td><td>${day(c.end)}</td><td>${esc(c.boundTo ?? "")}</td><td>${c.severity ? `<span class="sev sev-${c.severity}">${c.severity}</span>` : "none"}</td><td>${c.removedAt ? day(c.removedAt) : ""}</td></tr>`,
    )
    .join("\n");
  const events = t.events
    .map(
      (e) =>
        `<li><time datetime="${e.time}">${e.time.replace("T", " ").slice(0, 16)}</time> ${esc(e.action)} <code>${esc(e.keyId ?? "")}</code> (${esc(e.reason)}): ${esc(e.message)}</li>`,
    )
    .join("\n");
  const grace = t.graceWindows
    .map((g) => `<li>${esc(g.label)}: ${day(g.start)} to ${day(g.end)}</li>`)
    .join("\n");
  return `<table class="creds"><caption>Credentials of ${esc(t.displayName)}</caption>
<thead><tr><th scope="col">Kind</th><th scope="col">keyId</th><th scope="col">Name</th><th scope="col">Valid from</th><th scope="col">Valid until</th><th scope="col">Renewed from</th><th scope="col">Worst finding</th><th scope="col">Removed</th></tr></thead>
<tbody>${rows || `<tr><td colspan="8">No credentials.</td></tr>`}</tbody></table>
${events ? `<h4>Rotations and removals</h4><ul class="events">${events}</ul>` : ""}
${grace ? `<h4>Grace windows</h4><ul>${grace}</ul>` : ""}`;
}

function findingsTable(report: Report): string {
  const reasons = [...new Set(report.findings.map((f) => f.reason))].sort();
  const rows = report.findings
    .map(
      (f) =>
        `<tr data-severity="${f.severity}" data-reason="${esc(f.reason)}"><td data-sort="${SEVERITIES.indexOf(f.severity)}"><span class="sev sev-${f.severity}">${f.severity}</span></td><td><abbr title="${esc(f.meaning)}">${esc(f.reason)}</abbr></td><td><a href="#target-${esc(f.targetId)}">${esc(f.targetDisplayName)}</a></td><td>${f.credential}</td><td><code>${esc(f.keyId)}</code></td><td data-sort="${f.end}">${day(f.end)}</td><td>${esc(f.message)}</td></tr>`,
    )
    .join("\n");
  const header = ["Severity", "Finding", "Target", "Kind", "keyId", "Ends", "Details"]
    .map(
      (h, i) =>
        `<th scope="col" aria-sort="${i === 0 ? "ascending" : "none"}"><button type="button" data-col="${i}">${h}</button></th>`,
    )
    .join("");
  return `<section aria-labelledby="findings-h">
<h2 id="findings-h">Findings</h2>
<form class="filters" role="search" aria-label="Filter findings" onsubmit="return false">
<label for="f-text">Text</label> <input id="f-text" type="search" placeholder="target, keyId, words…">
<label for="f-sev">Severity</label> <select id="f-sev"><option value="">all</option>${SEVERITIES.map((s) => `<option>${s}</option>`).join("")}</select>
<label for="f-reason">Finding</label> <select id="f-reason"><option value="">all</option>${reasons.map((r) => `<option>${esc(r)}</option>`).join("")}</select>
<output id="f-count" for="f-text f-sev f-reason" aria-live="polite">${report.findings.length} of ${report.findings.length} shown</output>
</form>
<table id="findings"><caption>Findings, most severe first. Sort with the column buttons.</caption>
<thead><tr>${header}</tr></thead>
<tbody>${rows || `<tr><td colspan="7">No findings.</td></tr>`}</tbody></table>
</section>`;
}

const SCRIPT = `(() => {
  const table = document.getElementById("findings");
  if (!table) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).filter((r) => r.dataset.severity);
  const text = document.getElementById("f-text");
  const sev = document.getElementById("f-sev");
  const reason = document.getElementById("f-reason");
  const count = document.getElementById("f-count");
  function filter() {
    const q = text.value.trim().toLowerCase();
    let shown = 0;
    for (const r of rows) {
      const ok = (!sev.value || r.dataset.severity === sev.value) &&
        (!reason.value || r.dataset.reason === reason.value) &&
        (!q || r.textContent.toLowerCase().includes(q));
      r.hidden = !ok;
      if (ok) shown++;
    }
    count.value = shown + " of " + rows.length + " shown";
  }
  const key = (r, i) => { const c = r.cells[i]; return c.dataset.sort ?? c.textContent.trim().toLowerCase(); };
  function sort(i) {
    const th = table.tHead.rows[0].cells;
    const dir = th[i].getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    for (const c of th) c.setAttribute("aria-sort", "none");
    th[i].setAttribute("aria-sort", dir);
    const m = dir === "ascending" ? 1 : -1;
    rows.sort((a, b) => { const x = key(a, i), y = key(b, i); return (x < y ? -1 : x > y ? 1 : 0) * m; });
    for (const r of rows) body.appendChild(r);
  }
  for (const b of table.querySelectorAll("th button")) b.addEventListener("click", () => sort(Number(b.dataset.col)));
  for (const el of [text, sev, reason]) el.addEventListener("input", filter);
})();`;

const STYLE = `
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #fff; margin: 0 auto; max-width: 1060px; padding: 1rem 1.25rem 3rem; }
a { color: #0b57d0; } a:focus, button:focus, input:focus, select:focus { outline: 3px solid #0b57d0; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
h1 { font-size: 1.6rem; margin: .5rem 0; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; } h3 { font-size: 1.1rem; margin-top: 1.5rem; } h4 { font-size: 1rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: 13.5px; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " ▲"; } th[aria-sort="descending"] button::after { content: " ▼"; }
code { font-size: 12.5px; }
.sev { display: inline-block; padding: 0 .4rem; border-radius: 3px; color: #fff; font-weight: 600; }
.sev-high { background: ${COLORS.high}; } .sev-medium { background: ${COLORS.medium}; } .sev-low { background: ${COLORS.low}; } .sev-info { background: ${COLORS.info}; } .sev-none { background: ${COLORS.none}; }
.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .5rem; margin: 0; }
.totals div { border: 1px solid #d0d7de; border-radius: 6px; padding: .4rem .6rem; } .totals dt { font-size: 12.5px; color: #57606a; } .totals dd { margin: 0; font-size: 1.3rem; font-weight: 600; }
.filters { display: flex; flex-wrap: wrap; gap: .4rem .6rem; align-items: center; margin: .5rem 0; }
.filters input, .filters select { font: inherit; padding: .15rem .3rem; }
.timeline { display: block; max-width: 100%; height: auto; overflow: visible; }
.timeline .label, .timeline .tick { font: 11.5px system-ui, sans-serif; fill: #1f2328; }
.legend { display: flex; flex-wrap: wrap; gap: .75rem; font-size: 13px; padding: 0; list-style: none; }
.legend li::before { content: ""; display: inline-block; width: 1.6em; height: .8em; margin-right: .3em; vertical-align: middle; background: var(--c); border: 1px solid var(--c); }
.target { break-inside: avoid; page-break-inside: avoid; }
.note { background: #fff8c5; border: 1px solid #d4a72c; padding: .4rem .6rem; border-radius: 6px; }
@media print { .filters, .skip { display: none; } body { max-width: none; font-size: 12px; } a { color: inherit; text-decoration: none; } h2 { break-after: avoid; } }
`;

export function renderReportHtml(report: Report): string {
  const t = report.totals;
  const total = (label: string, value: number | string) => `<div><dt>${label}</dt><dd>${value}</dd></div>`;
  const legend = [
    ...SEVERITIES.map((s) => `<li style="--c:${COLORS[s]}">${s} finding</li>`),
    `<li style="--c:${COLORS.none}">no finding</li>`,
    `<li style="--c:#6f42c1">grace window (shaded)</li>`,
    `<li style="--c:#8c959f">removed (from the audit trail)</li>`,
    "<li>◆ rotation step · ✕ removal · dashed bar: client secret · dashed line: now</li>",
  ].join("");
  const notes = report.notes
    .map((n) => `<p class="note" role="note"><strong>${esc(n.reason)}</strong>: ${esc(n.message)}</p>`)
    .join("\n");
  const targets = report.targets
    .map(
      (tg, i) => `<section class="target" id="target-${esc(tg.id)}" aria-labelledby="target-h-${i}">
<h3 id="target-h-${i}">${esc(tg.displayName)}</h3>
<p>${esc(tg.type)} · object id <code>${esc(tg.id)}</code>${tg.appId ? ` · app id <code>${esc(tg.appId)}</code>` : ""} · ${tg.findings.length} findings</p>
${timeline(report, tg, i)}
${credentialTable(tg)}
</section>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>Rollover report — tenant ${esc(report.tenantId)}</title>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#findings-h">Skip to the findings</a>
<header>
<h1>Rollover credential report</h1>
<p>Tenant <code>${esc(report.tenantId)}</code> · generated <time datetime="${report.generatedAt}">${report.generatedAt.replace("T", " ").slice(0, 16)} UTC</time> · timelines from ${day(report.axis.start)} to ${day(report.axis.end)} · audit trail: ${esc(report.auditSource)}</p>
</header>
<main>
<section aria-labelledby="totals-h">
<h2 id="totals-h">Totals</h2>
<dl class="totals">${total("Targets", t.targets)}${total("Credentials", t.credentials)}${total("Findings", t.findings)}${SEVERITIES.map((s) => total(`${s[0]!.toUpperCase()}${s.slice(1)} severity`, t.bySeverity[s])).join("")}${total("Rotation steps", t.rotations)}${total("Removals", t.removals)}${total("Audit records read", t.auditRecords)}</dl>
${notes}
</section>
${findingsTable(report)}
<section aria-labelledby="timelines-h">
<h2 id="timelines-h">Timelines</h2>
<ul class="legend" aria-label="Legend">${legend}</ul>
${report.omittedTargets > 0 ? `<p>${report.omittedTargets} targets with credentials but no finding, binding or recorded change are left out (<code>rollover report --all</code> shows them).</p>` : ""}
${targets}
</section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
