/**
 * Print history in sqlite: one row per job, written when the job starts and completed when it
 * ends (so a crash leaves a trace), from the job events on the bus. Recording is idempotent per
 * job id: a repeated event changes nothing. Lists with filters and paging, statistics per file
 * (by content hash, optionally per printer) that feed the time-left estimate, and CSV rows.
 *
 * A print resumed after a crash keeps its parts as rows of their own (the interrupted part,
 * failed, and the resumed part), linked: the resumed row names the job it resumed
 * (`resumed_from`) and the first job of the chain (`print_chain`). Statistics count a chain as
 * one print, with the outcome of its last part and the print time of all its parts.
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import { subscribe, type Bus } from "../events.ts";
import type { PrinterEvent } from "../printers/controller.ts";
import type { Checkpoint } from "./plan.ts";
import { interruptedSummary, stoppedWhere } from "./recovery.ts";

/** How a print ended; `printing` while it runs (or until a restart finds it never ended). */
export const OUTCOMES = ["done", "cancelled", "failed"] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const OUTCOME_FILTERS = [...OUTCOMES, "printing"] as const;

/** A history row as the API, the pages and the CSV show it. */
export interface HistoryEntry {
  id: number;
  jobId: string;
  printer: string;
  printerName: string;
  /** Path relative to the files folder, or the name on the SD card (`source: "sd"`). */
  file: string;
  /** The file's base name. */
  name: string;
  source: "host" | "sd";
  sha256: string | null;
  size: number;
  /** ms since 1970; `endedAt` null while printing (or when the host stopped during the print). */
  startedAt: number;
  endedAt: number | null;
  /** Seconds printing, pauses excluded. */
  printTime: number;
  outcome: Outcome | "printing";
  reason: string | null;
  /** What happened along the way without ending it (e.g. the printer's thread restarted and the print went on). */
  notes: string | null;
  /** Filament pushed, mm (all tools). */
  filament: number;
  /** Resumed after a crash (the print went on from an offset of the file). */
  resumed: boolean;
  /** The entry of the interrupted print this one resumed (null when not resumed, or that entry was deleted). */
  resumedFrom: number | null;
  /** The entry of the print that resumed this interrupted one, if any (the latest, if resumed more than once). */
  resumedAs: number | null;
}

/** Statistics of one file's prints (finished ones only; a resumed print counts once, see above). */
export interface FileStats {
  sha256: string;
  /** The printer the figures are for, or null for every printer. */
  printer: string | null;
  /** Finished prints: done, cancelled or failed. */
  prints: number;
  successes: number;
  /** Cancelled and failed (as OctoPrint counts them). */
  failures: number;
  /** successes / prints, 0–1; null before the first print. */
  successRate: number | null;
  /** Mean print time of the successful prints, seconds. */
  averagePrintTime: number | null;
  /** Print time of the latest successful print, seconds. */
  lastPrintTime: number | null;
  /** The latest print, whatever its outcome. */
  last: { outcome: Outcome; endedAt: number | null; printTime: number } | null;
}

/** A file's statistics as the history page lists them (SD files have no hash: keyed by name). */
export interface FileSummary {
  sha256: string | null;
  /** The name it was printed under most recently. */
  file: string;
  source: "host" | "sd";
  prints: number;
  successes: number;
  successRate: number | null;
  averagePrintTime: number | null;
  lastPrintedAt: number;
}

const isoOrMs = (end: boolean) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.transform((s) => {
      if (s === "") return undefined;
      if (/^\d+$/.test(s)) return Number(s);
      // A bare date means the whole day (UTC): `to` includes it up to its last millisecond.
      const day = /^\d{4}-\d\d-\d\d$/.test(s);
      const t = Date.parse(day ? `${s}T00:00:00Z` : s);
      return Number.isNaN(t) ? Number.NaN : day && end ? t + 86_400_000 - 1 : t;
    }),
    v.check((t) => t === undefined || !Number.isNaN(t), "use a date (2026-05-01), an ISO time or ms since 1970"),
  );

const intParam = (min: number, max: number, fallback: number, what: string) =>
  v.optional(
    v.pipe(v.string(), v.transform(Number), v.integer(`${what} must be a whole number`), v.minValue(min, `${what} must be at least ${min}`), v.maxValue(max, `${what} may be at most ${max}`)),
    String(fallback),
  );

/** The filters of a history listing, as query parameters (strings) of the API and the page. */
export const HistoryQuerySchema = v.object({
  printer: v.optional(v.pipe(v.string(), v.trim())),
  outcome: v.optional(v.picklist(["", ...OUTCOME_FILTERS], `outcome is one of ${OUTCOME_FILTERS.join(", ")}`)),
  /** Part of the file's path, any case. */
  q: v.optional(v.pipe(v.string(), v.maxLength(200, "q may be at most 200 characters"))),
  sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/i, "sha256 is 64 hex digits"), v.toLowerCase())),
  /** Started at or after `from`, at or before `to`. */
  from: v.optional(isoOrMs(false)),
  to: v.optional(isoOrMs(true)),
  limit: intParam(1, 500, 50, "limit"),
  offset: intParam(0, Number.MAX_SAFE_INTEGER, 0, "offset"),
});
export type HistoryQuery = v.InferOutput<typeof HistoryQuerySchema>;
export type HistoryFilter = Partial<Omit<HistoryQuery, "limit" | "offset">>;

interface Row {
  id: number;
  job_id: string;
  printer_id: string;
  printer_name: string;
  file: string;
  source: "host" | "sd";
  sha256: string | null;
  size: number;
  started_at: number;
  ended_at: number | null;
  print_time: number;
  outcome: Outcome | null;
  reason: string | null;
  notes: string | null;
  filament_mm: number;
  resumed: number;
  resumed_from_id: number | null;
  resumed_as_id: number | null;
}

const toEntry = (r: Row): HistoryEntry => ({
  id: r.id,
  jobId: r.job_id,
  printer: r.printer_id,
  printerName: r.printer_name,
  file: r.file,
  name: r.file.slice(r.file.lastIndexOf("/") + 1),
  source: r.source,
  sha256: r.sha256,
  size: r.size,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  printTime: r.print_time,
  outcome: r.outcome ?? "printing",
  reason: r.reason,
  notes: r.notes,
  filament: r.filament_mm,
  resumed: r.resumed === 1,
  resumedFrom: r.resumed_from_id,
  resumedAs: r.resumed_as_id,
});

/** The rows with the entry ids of the parts they are linked to (the filter's columns are the table's). */
const ENTRIES = `SELECT h.*,
  (SELECT p.id FROM print_history AS p WHERE p.job_id = h.resumed_from) AS resumed_from_id,
  (SELECT MAX(n.id) FROM print_history AS n WHERE n.resumed_from = h.job_id) AS resumed_as_id
  FROM print_history AS h`;

/**
 * `prints`: one row per print — a chain of resumed parts as its last part, with the print time
 * and filament of all its parts. `scope` (chain-invariant columns only: printer, file, hash)
 * narrows the rows grouped; the filters apply to the `prints` rows.
 */
const prints = (scope = "") => `WITH chains AS (
    SELECT MAX(id) AS last_id, SUM(print_time) AS total_time, SUM(filament_mm) AS total_filament
    FROM print_history ${scope} GROUP BY COALESCE(print_chain, job_id)),
  prints AS (
    SELECT h.id, h.printer_id, h.file, h.source, h.sha256, h.started_at, h.ended_at, h.outcome,
      chains.total_time AS print_time, chains.total_filament AS filament_mm
    FROM chains JOIN print_history AS h ON h.id = chains.last_id)`;

/** Why a print that never ended is a failure: the host stopped while it ran. */
export const INTERRUPTED_REASON = "Layerline stopped during this print (a crash, power loss or restart); it did not finish.";

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The WHERE clause and its parameters for a filter. */
function where(filter: HistoryFilter): { sql: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  if (filter.printer) {
    parts.push("printer_id = ?");
    params.push(filter.printer);
  }
  if (filter.outcome === "printing") parts.push("outcome IS NULL");
  else if (filter.outcome) {
    parts.push("outcome = ?");
    params.push(filter.outcome);
  }
  if (filter.q) {
    parts.push("file LIKE ? ESCAPE '\\'");
    params.push(`%${likeEscape(filter.q)}%`);
  }
  if (filter.sha256) {
    parts.push("sha256 = ?");
    params.push(filter.sha256);
  }
  if (filter.from !== undefined) {
    parts.push("started_at >= ?");
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    parts.push("started_at <= ?");
    params.push(filter.to);
  }
  return { sql: parts.length ? `WHERE ${parts.join(" AND ")}` : "", params };
}

const rate = (successes: number, prints: number) => (prints > 0 ? successes / prints : null);

export class HistoryStore {
  constructor(private readonly db: Database) {}

  /**
   * Closes the rows of prints that never ended (the host stopped while they ran) as failures.
   * A print whose last checkpoint survived (`checkpoint`: the printer's, if any) keeps what it
   * says: when it stopped, how long it had printed, the filament and where in the file. Called
   * once at start, before any printer runs.
   */
  closeInterrupted(checkpoint: (printerId: string) => Checkpoint | undefined = () => undefined): number {
    const open = this.db.query("SELECT job_id, printer_id FROM print_history WHERE outcome IS NULL").all() as { job_id: string; printer_id: string }[];
    const close = this.db.query(
      "UPDATE print_history SET outcome = 'failed', reason = ?, ended_at = COALESCE(?, ended_at), print_time = COALESCE(?, print_time), filament_mm = COALESCE(?, filament_mm) WHERE job_id = ? AND outcome IS NULL",
    );
    this.db.transaction(() => {
      for (const row of open) {
        const cp = checkpoint(row.printer_id);
        if (cp?.jobId !== row.job_id) close.run(INTERRUPTED_REASON, null, null, null, row.job_id);
        else close.run(`${INTERRUPTED_REASON} It stopped ${stoppedWhere(interruptedSummary(cp, null))}.`, cp.at, Math.round(cp.printTime), cp.state ? Math.round(cp.state.extruded * 10) / 10 : null, row.job_id);
      }
    })();
    return open.length;
  }

  /**
   * Closes a printer's open row with how its print ended while the host's main thread was stuck
   * (it never saw the end; the printer's thread told the watchdog). Called at start, before
   * {@link closeInterrupted}.
   */
  closeEndedUnseen(printerId: string, outcome: "done" | "cancelled" | "failed", at: number): number {
    const reason = outcome === "done" ? null : `${outcome === "cancelled" ? "Cancelled" : "Failed"} while the web interface was stopped (the reason was not recorded).`;
    return this.db.query("UPDATE print_history SET outcome = ?, reason = ?, ended_at = ? WHERE printer_id = ? AND outcome IS NULL").run(outcome, reason, at, printerId).changes;
  }

  /** Records a printer's job event; other events and repeats are ignored. Returns whether a row changed. */
  record(printer: { id: string; name: string }, event: PrinterEvent): boolean {
    if (event.type !== "job" || !event.job) return false;
    const { job, progress } = event;
    const printTime = progress?.printTime ?? 0;
    const filament = progress?.filament ?? 0;
    const from = job.resumedFrom?.jobId ?? null;
    // The chain is the resumed job's chain, or the resumed job itself when it is the first part.
    const chain = from === null ? null : ((this.db.query("SELECT print_chain FROM print_history WHERE job_id = ?").get(from) as { print_chain: string | null } | null)?.print_chain ?? from);
    const start = [job.id, printer.id, printer.name, job.file, job.source, job.sha256, job.size, job.startedAt, job.resumedFrom ? 1 : 0, from, chain] as const;
    const columns = "job_id, printer_id, printer_name, file, source, sha256, size, started_at, resumed, resumed_from, print_chain";
    if (event.state === "started") {
      return this.db.query(`INSERT INTO print_history (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING`).run(...start).changes > 0;
    }
    if (event.state === "paused" || event.state === "resumed") {
      // Progress so far, so a print the host never sees end still shows how far it got.
      return this.db.query("UPDATE print_history SET print_time = ?, filament_mm = ? WHERE job_id = ? AND outcome IS NULL").run(printTime, filament, job.id).changes > 0;
    }
    const reason = event.state === "done" ? null : (job.reason ?? event.reason ?? null);
    const notes = job.notes?.length ? job.notes.join(" ") : null;
    const endedAt = job.endedAt ?? Date.now();
    // An end without a start seen (history came up mid-print) makes the whole row at once. An SD
    // print's hash is known only once its card file was matched with a host file, after the start.
    return this.db
      .query(
        `INSERT INTO print_history (${columns}, ended_at, print_time, outcome, reason, notes, filament_mm)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (job_id) DO UPDATE SET ended_at = excluded.ended_at, print_time = excluded.print_time, outcome = excluded.outcome,
           reason = excluded.reason, notes = excluded.notes, filament_mm = excluded.filament_mm, sha256 = COALESCE(print_history.sha256, excluded.sha256)
         WHERE print_history.outcome IS NULL`,
      )
      .run(...start, endedAt, printTime, event.state, reason, notes, filament).changes > 0;
  }

  /** Records every printer's job events from the bus; returns the function that stops it. */
  listen(bus: Bus, nameOf: (printerId: string) => string | undefined): () => void {
    return subscribe(bus, {
      "printer.event": ({ id, event }) => {
        if (event.type === "job") this.record({ id, name: nameOf(id) ?? id }, event);
      },
    });
  }

  /** Entries matching the filter, newest first, a page at a time, with the total. */
  list(query: HistoryFilter & { limit?: number; offset?: number } = {}): { total: number; items: HistoryEntry[] } {
    const w = where(query);
    const total = (this.db.query(`SELECT COUNT(*) AS n FROM print_history ${w.sql}`).get(...w.params) as { n: number }).n;
    const rows = this.db
      .query(`${ENTRIES} ${w.sql} ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?`)
      .all(...w.params, query.limit ?? 50, query.offset ?? 0) as Row[];
    return { total, items: rows.map(toEntry) };
  }

  /** Every entry matching the filter, newest first, read lazily (for exports). */
  *each(filter: HistoryFilter = {}): Generator<HistoryEntry> {
    const w = where(filter);
    for (const row of this.db.query(`${ENTRIES} ${w.sql} ORDER BY started_at DESC, id DESC`).iterate(...w.params)) yield toEntry(row as Row);
  }

  get(id: number): HistoryEntry | undefined {
    const row = this.db.query(`${ENTRIES} WHERE h.id = ?`).get(id) as Row | null;
    return row ? toEntry(row) : undefined;
  }

  /** Deletes one entry; false when there was none. */
  delete(id: number): boolean {
    return this.db.query("DELETE FROM print_history WHERE id = ?").run(id).changes > 0;
  }

  /**
   * Statistics of the finished prints of the file with this content, on one printer or on all:
   * what the time-left estimate and OctoPrint's `prints`/`statistics` read.
   */
  statsFor(sha256: string, printerId?: string): FileStats {
    const scoped = prints(printerId ? "WHERE sha256 = ? AND printer_id = ?" : "WHERE sha256 = ?");
    const params = printerId ? [sha256, printerId] : [sha256];
    const agg = this.db
      .query(
        `${scoped} SELECT COUNT(*) AS prints, COALESCE(SUM(outcome = 'done'), 0) AS successes, AVG(CASE WHEN outcome = 'done' THEN print_time END) AS average
         FROM prints WHERE outcome IS NOT NULL`,
      )
      .get(...params) as { prints: number; successes: number; average: number | null };
    const latest = (outcome: string) => `${scoped} SELECT outcome, ended_at, print_time FROM prints WHERE ${outcome} ORDER BY COALESCE(ended_at, started_at) DESC, id DESC LIMIT 1`;
    const last = this.db.query(latest("outcome IS NOT NULL")).get(...params) as { outcome: Outcome; ended_at: number | null; print_time: number } | null;
    const lastSuccess = this.db.query(latest("outcome = 'done'")).get(...params) as { print_time: number } | null;
    return {
      sha256,
      printer: printerId ?? null,
      prints: agg.prints,
      successes: agg.successes,
      failures: agg.prints - agg.successes,
      successRate: rate(agg.successes, agg.prints),
      averagePrintTime: agg.average,
      lastPrintTime: lastSuccess?.print_time ?? null,
      last: last ? { outcome: last.outcome, endedAt: last.ended_at, printTime: last.print_time } : null,
    };
  }

  /** Statistics of every file printed (matching the filter), most recently printed first. */
  files(filter: HistoryFilter = {}, limit = 200): FileSummary[] {
    const w = where(filter);
    const rows = this.db
      .query(
        // With one MAX() aggregate, sqlite takes the bare columns (file, started_at) from that row: the latest print.
        `${prints()} SELECT MAX(id) AS last_id, sha256, source, file, started_at AS last_at,
           COUNT(outcome) AS prints, COALESCE(SUM(outcome = 'done'), 0) AS successes,
           AVG(CASE WHEN outcome = 'done' THEN print_time END) AS average
         FROM prints ${w.sql}
         GROUP BY COALESCE(sha256, source || ':' || file)
         ORDER BY last_id DESC LIMIT ?`,
      )
      .all(...w.params, limit) as { sha256: string | null; source: "host" | "sd"; last_at: number; file: string; prints: number; successes: number; average: number | null }[];
    return rows.map((r) => ({
      sha256: r.sha256,
      file: r.file,
      source: r.source,
      prints: r.prints,
      successes: r.successes,
      successRate: rate(r.successes, r.prints),
      averagePrintTime: r.average,
      lastPrintedAt: r.last_at,
    }));
  }
}
