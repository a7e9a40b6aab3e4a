/**
 * The parts of `npm run bench` and their sections of BENCHMARKS.md. A run of some parts
 * (BENCH_ONLY) replaces only their sections; the others are kept as an earlier run wrote them.
 */

/** Each part, in the order it runs, with the start of its section's heading. */
export const PARTS = [
  { name: "sweep", heading: "## Sweep" },
  { name: "cold", heading: "## Cold start" },
  { name: "rotation", heading: "## Rotation" },
  { name: "events", heading: "## Event to attached" },
] as const;

/** The `## ` sections of a text, by the part whose heading starts them (others are dropped). */
export function sectionsOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const chunks = text.split(/\n(?=## )/);
  for (const c of chunks) {
    const part = PARTS.find((p) => c.startsWith(p.heading));
    if (part) out.set(part.name, c.trimEnd());
  }
  return out;
}

/**
 * The sections for BENCHMARKS.md: those of the parts that ran from `fresh`, the others from
 * `previous` (the text between the markers as it was), in the parts' order.
 */
export function mergeSections(previous: string, fresh: string, ran: readonly string[]): string {
  const before = sectionsOf(previous);
  const now = sectionsOf(fresh);
  return PARTS.flatMap((p) => {
    const s = ran.includes(p.name) ? now.get(p.name) : before.get(p.name);
    return s ? [s, ""] : [];
  }).join("\n");
}
