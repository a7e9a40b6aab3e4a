/**
 * Checks the hash chains of audit records read back from the table. Pure: records in, report
 * out. Arrival order is not evidence (spooled records arrive late, uploads run in parallel), so
 * each chain is put in `Sequence` order and then checked record by record:
 *
 *   edited       the stored `Hash` is not the hash of the record's content
 *   gap          sequence numbers are missing (records deleted or never delivered)
 *   missingStart the chain does not start at 1 (when the whole history is expected)
 *   fork         two different records claim the same position
 *   reordered    `PrevHash` points at another record of the chain than the one before it
 *   brokenLink   `PrevHash` matches no record of the chain
 *   truncated    the chain's stored head is further on than the last record read, or (reading a
 *                window) the writer wrote in the window and no record of it is left
 *   beyondHead   records past the chain's stored head (appended by someone else)
 *   headMismatch the record at the head's (or the signed checkpoint's) position is another one
 *   unknownWriter records of a chain that has no stored head (a second chain someone appended)
 *   unsigned     the head has no checkpoint signed by Rollover's key, or its signature fails
 *   malformed    no writer or no sequence number
 *
 * Exact duplicates (same `RecordId` and `Hash`: a resend after a crash) are counted, not errors.
 */
import { GENESIS_HASH, hashRecord, normalizeRecord, type RecordLike } from "./record.js";

export type ChainProblemKind =
  | "edited"
  | "gap"
  | "missingStart"
  | "fork"
  | "reordered"
  | "brokenLink"
  | "truncated"
  | "beyondHead"
  | "headMismatch"
  | "unknownWriter"
  | "unsigned"
  | "malformed";

export interface ChainProblem {
  kind: ChainProblemKind;
  writer: string;
  /** The broken record's position (for gaps: the record after the gap). */
  sequence: number;
  recordId?: string;
  /** For gaps, missingStart and truncated: the missing sequence numbers, inclusive. */
  missing?: [number, number];
  detail: string;
}

export interface ChainSummary {
  writer: string;
  records: number;
  firstSequence: number;
  lastSequence: number;
  firstTime: string | null;
  lastTime: string | null;
  ok: boolean;
  /** The earliest problem in the chain, when there is one. */
  firstBroken?: ChainProblem;
  problems: ChainProblem[];
}

export interface ChainReport {
  ok: boolean;
  /** Records read, duplicates included. */
  records: number;
  /** Exact resends that were set aside. */
  duplicates: number;
  chains: ChainSummary[];
  problems: ChainProblem[];
}

/** Where a chain's writer says it got to (the chain store's head). */
export interface ChainHeadInfo {
  writer: string;
  sequence: number;
  hash: string;
  /** TimeGenerated of the head's record (ISO 8601), when stored. */
  lastTime?: string;
  /** The newest signed checkpoint, with the outcome of its signature check (done by the caller). */
  signed?: { sequence: number; hash: string; valid?: boolean };
}

export interface VerifyChainsOptions {
  /** Every chain must start at 1 (default true; false when reading a time window). */
  expectGenesis?: boolean;
  /** Stored chain heads: a chain whose last record is behind its head was cut short. */
  heads?: ChainHeadInfo[];
  /** Sequence numbers known to wait in the spool (writer → sequences): not missing. */
  pending?: Map<string, Set<number>>;
  /** Heads are the full list of writers: a chain with no head is someone else's. */
  headsComplete?: boolean;
  /** Every head must carry a valid signed checkpoint (a signing key is configured). */
  requireSignatures?: boolean;
  /** The start of the window read (with expectGenesis false). */
  since?: Date;
}

const KIND_ORDER: ChainProblemKind[] = [
  "unknownWriter",
  "unsigned",
  "malformed",
  "missingStart",
  "gap",
  "fork",
  "edited",
  "reordered",
  "brokenLink",
  "headMismatch",
  "truncated",
  "beyondHead",
];

function short(hash: string): string {
  return hash ? `${hash.slice(0, 12)}…` : "(none)";
}

/** Keeps the first of each set of exact duplicates (same RecordId and Hash), as the KQL dedupe does. */
export function dedupeByRecordId<T extends RecordLike>(
  records: readonly T[],
): { records: T[]; duplicates: number } {
  const seen = new Set<string>();
  const out: T[] = [];
  let duplicates = 0;
  for (const r of records) {
    const key = `${String(r.RecordId ?? "")}\u0000${String(r.Hash ?? "")}`;
    if (r.RecordId && seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    out.push(r);
  }
  return { records: out, duplicates };
}

export function verifyChains(input: readonly RecordLike[], options: VerifyChainsOptions = {}): ChainReport {
  const expectGenesis = options.expectGenesis ?? true;
  const { records: unique, duplicates } = dedupeByRecordId(input);
  const problems: ChainProblem[] = [];
  const byWriter = new Map<string, Array<{ index: number; r: ReturnType<typeof normalizeRecord> }>>();

  unique.forEach((row, index) => {
    const r = normalizeRecord(row);
    if (!r.Writer || !Number.isInteger(r.Sequence) || r.Sequence < 1) {
      problems.push({
        kind: "malformed",
        writer: r.Writer ?? "",
        sequence: Number.isFinite(r.Sequence) ? r.Sequence : 0,
        ...(r.RecordId ? { recordId: r.RecordId } : {}),
        detail: `record ${r.RecordId ?? `#${index}`} has no writer or no valid sequence number`,
      });
      return;
    }
    let list = byWriter.get(r.Writer);
    if (!list) {
      list = [];
      byWriter.set(r.Writer, list);
    }
    list.push({ index, r });
  });

  const heads = new Map((options.heads ?? []).map((h) => [h.writer, h]));
  const chains: ChainSummary[] = [];
  const writers = new Set([...byWriter.keys(), ...heads.keys()]);
  for (const writer of [...writers].sort()) {
    const list = (byWriter.get(writer) ?? []).sort(
      (a, b) => a.r.Sequence - b.r.Sequence || a.index - b.index,
    );
    const chainProblems: ChainProblem[] = problems.filter((p) => p.writer === writer);
    const pending = options.pending?.get(writer) ?? new Set<number>();
    const add = (p: Omit<ChainProblem, "writer">) => chainProblems.push({ writer, ...p });
    const hashToSeq = new Map<string, number>();
    for (const { r } of list) if (r.Hash) hashToSeq.set(r.Hash, r.Sequence);

    let prev: (typeof list)[number]["r"] | undefined;
    for (const { r } of list) {
      const id = r.RecordId ?? undefined;
      const actual = hashRecord(r);
      if (actual !== r.Hash) {
        add({
          kind: "edited",
          sequence: r.Sequence,
          ...(id ? { recordId: id } : {}),
          detail: `record ${r.Sequence} (${id}) was changed after it was written: its content hashes to ${short(actual)}, it says ${short(r.Hash)}`,
        });
      }
      if (!prev) {
        if (r.Sequence === 1) {
          if (r.PrevHash !== GENESIS_HASH) {
            add({
              kind: "brokenLink",
              sequence: 1,
              ...(id ? { recordId: id } : {}),
              detail: `record 1 (${id}) does not start from the genesis hash`,
            });
          }
        } else if (expectGenesis) {
          const missing = missingRange(1, r.Sequence - 1, pending);
          if (missing) {
            add({
              kind: "missingStart",
              sequence: r.Sequence,
              ...(id ? { recordId: id } : {}),
              missing,
              detail: `records ${rangeText(missing)} are missing before record ${r.Sequence} (${id})`,
            });
          }
        }
      } else if (r.Sequence === prev.Sequence) {
        add({
          kind: "fork",
          sequence: r.Sequence,
          ...(id ? { recordId: id } : {}),
          detail: `records ${prev.RecordId} and ${id} both claim position ${r.Sequence}`,
        });
        continue;
      } else if (r.Sequence > prev.Sequence + 1) {
        const missing = missingRange(prev.Sequence + 1, r.Sequence - 1, pending);
        if (missing) {
          add({
            kind: "gap",
            sequence: r.Sequence,
            ...(id ? { recordId: id } : {}),
            missing,
            detail: `records ${rangeText(missing)} are missing before record ${r.Sequence} (${id})`,
          });
        }
      } else if (r.PrevHash !== prev.Hash) {
        const points = hashToSeq.get(r.PrevHash);
        add(
          points !== undefined
            ? {
                kind: "reordered",
                sequence: r.Sequence,
                ...(id ? { recordId: id } : {}),
                detail: `record ${r.Sequence} (${id}) follows record ${points}, not record ${prev.Sequence}`,
              }
            : {
                kind: "brokenLink",
                sequence: r.Sequence,
                ...(id ? { recordId: id } : {}),
                detail: `record ${r.Sequence} (${id}) does not follow record ${prev.Sequence}: record ${prev.Sequence} or ${r.Sequence} was replaced`,
              },
        );
      }
      prev = r;
    }

    const head = heads.get(writer);
    const last = list.at(-1)?.r.Sequence ?? 0;
    if (!head && options.headsComplete && list.length > 0) {
      add({
        kind: "unknownWriter",
        sequence: list[0]!.r.Sequence,
        detail: `chain ${writer} has ${list.length} record(s) but no head in Rollover's storage: not written by Rollover`,
      });
    }
    if (head) {
      const bySeq = new Map(list.map(({ r }) => [r.Sequence, r]));
      const beyond = list.filter(({ r }) => r.Sequence > head.sequence);
      if (beyond.length > 0) {
        add({
          kind: "beyondHead",
          sequence: beyond[0]!.r.Sequence,
          detail: `${beyond.length} record(s) past the chain's head (${head.sequence}): appended by someone else`,
        });
      }
      const anchors: Array<[string, number, string]> = [["head", head.sequence, head.hash]];
      if (head.signed) anchors.push(["signed checkpoint", head.signed.sequence, head.signed.hash]);
      for (const [what, seq, hash] of anchors) {
        const r = bySeq.get(seq);
        if (r && r.Hash !== hash) {
          add({
            kind: "headMismatch",
            sequence: seq,
            ...(r.RecordId ? { recordId: r.RecordId } : {}),
            detail: `record ${seq} is not the one the ${what} names (${short(hash)}): the chain was replaced from there`,
          });
        }
      }
      // Reading a window, a chain that wrote nothing in it (a head from before signing existed,
      // an instance long gone) is not judged by its signature.
      const inWindow =
        expectGenesis ||
        list.length > 0 ||
        (head.lastTime !== undefined &&
          options.since !== undefined &&
          Date.parse(head.lastTime) >= options.since.getTime());
      if (options.requireSignatures && inWindow && !head.signed?.valid) {
        add({
          kind: "unsigned",
          sequence: head.signed?.sequence ?? head.sequence,
          detail: head.signed
            ? `the signature of checkpoint ${head.signed.sequence} does not verify with Rollover's audit signing key`
            : "the chain's head carries no checkpoint signed with Rollover's audit signing key",
        });
      }
      // Reading a window: a writer whose last record falls in it must have records in it.
      if (
        !expectGenesis &&
        list.length === 0 &&
        options.since &&
        head.lastTime &&
        Date.parse(head.lastTime) >= options.since.getTime()
      ) {
        add({
          kind: "truncated",
          sequence: head.sequence,
          detail: `the writer wrote up to record ${head.sequence} at ${head.lastTime}, but no record of it since ${options.since.toISOString()} was found`,
        });
      }
    }
    // Reading a time window, a chain with no record in it says nothing about its tail.
    if (head && head.sequence > last && (expectGenesis || list.length > 0)) {
      const missing = missingRange(last + 1, head.sequence, pending);
      if (missing) {
        add({
          kind: "truncated",
          sequence: missing[0],
          missing,
          detail: `the chain's head is at ${head.sequence} but records ${rangeText(missing)} were not found`,
        });
      }
    }

    chainProblems.sort(
      (a, b) => a.sequence - b.sequence || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind),
    );
    const first = chainProblems[0];
    chains.push({
      writer,
      records: list.length,
      firstSequence: list[0]?.r.Sequence ?? 0,
      lastSequence: last,
      firstTime: list[0]?.r.TimeGenerated ?? null,
      lastTime: list.at(-1)?.r.TimeGenerated ?? null,
      ok: chainProblems.length === 0,
      ...(first ? { firstBroken: first } : {}),
      problems: chainProblems,
    });
  }

  const all = chains.flatMap((c) => c.problems);
  // Malformed records with no writer have no chain of their own.
  for (const p of problems) if (!writers.has(p.writer)) all.push(p);
  return { ok: all.length === 0, records: input.length, duplicates, chains, problems: all };
}

/** The part of [from, to] not waiting in the spool, as one range (or undefined when all wait). */
function missingRange(from: number, to: number, pending: Set<number>): [number, number] | undefined {
  let lo = from;
  let hi = to;
  while (lo <= hi && pending.has(lo)) lo++;
  while (hi >= lo && pending.has(hi)) hi--;
  return lo <= hi ? [lo, hi] : undefined;
}

function rangeText([a, b]: [number, number]): string {
  return a === b ? String(a) : `${a}–${b}`;
}

/** The report as text for people: one line per chain, then each problem. */
export function renderReport(report: ChainReport): string {
  const lines: string[] = [];
  lines.push(
    report.ok
      ? `audit trail whole: ${report.records} records in ${report.chains.length} chain(s)` +
          (report.duplicates ? `, ${report.duplicates} resent duplicate(s) set aside` : "")
      : `audit trail BROKEN: ${report.problems.length} problem(s) in ${report.records} records`,
  );
  for (const c of report.chains) {
    const span = c.records ? `${c.firstSequence}–${c.lastSequence}` : "none";
    const when = c.firstTime ? ` (${c.firstTime} … ${c.lastTime})` : "";
    lines.push(
      `  ${c.ok ? "ok    " : "BROKEN"} ${c.writer}: ${c.records} records, sequence ${span}${when}` +
        (c.firstBroken ? `; first broken: record ${c.firstBroken.sequence}` : ""),
    );
    for (const p of c.problems) lines.push(`         ${p.kind}: ${p.detail}`);
  }
  for (const p of report.problems.filter((p) => !report.chains.some((c) => c.writer === p.writer))) {
    lines.push(`  ${p.kind}: ${p.detail}`);
  }
  return lines.join("\n");
}
