/**
 * The farm queue, in sqlite: one queue for all printers — files with a number of copies, in
 * order; each copy handed to a printer is a run (which printer took it, how it ended); and per
 * printer what the farm knows of its bed since its last print and whether it starts the next
 * print by itself. Which entry goes where is decided by `planDispatch` (dispatch.ts, pure); this
 * store gives it the facts and keeps what happened. Every change is written before it is acted on.
 *
 * A copy that fails or is cancelled goes back to the queue (the printer then waits for its bed
 * to be cleared, auto-start or not) — unless it was interrupted and its printer offers to resume
 * it (a crash, a restart of the host): then it stays taken until the user decides, and a resume
 * carries the copy on, so it is never printed twice. An entry leaves the queue when all its copies printed well.
 * Queued files moved or renamed are followed; deleted ones are shown missing and not printed.
 */
import type { Database } from "bun:sqlite";
import type { AnalysisStore } from "../analysis/store.ts";
import { subscribe, type Bus } from "../events.ts";
import type { FileStorage } from "../files/storage.ts";
import { queueableFile, reordered, type QueueState } from "../jobs/queue.ts";
import type { PrinterEvent, Result } from "../printers/controller.ts";
import type { PrinterProfile } from "../printers/profile.ts";
import { isJobRunning, type PrinterStatus, type Problem } from "../printers/status.ts";
import { fileNeeds, notFree, planDispatch, type BedState, type DispatchPlan, type FarmEntryFacts, type FarmPrinterFacts, type FileNeeds } from "./dispatch.ts";

/** The most entries the farm queue holds, and copies per entry. */
export const MAX_FARM_ITEMS = 1000;
export const MAX_COPIES = 1000;

export type RunOutcome = "done" | "cancelled" | "failed";

/** A copy handed to a printer. */
export interface FarmRun {
  printer: string;
  printerName: string;
  file: string;
  startedAt: number;
  endedAt: number | null;
  /** null while it prints. */
  outcome: RunOutcome | null;
  reason: string | null;
  /** Cut short, and its printer offers to resume it: the copy is not handed out again meanwhile. */
  interrupted: boolean;
}

export interface FarmItem {
  id: string;
  /** Path relative to the files folder (moves and renames since it was queued are followed). */
  file: string;
  missing: boolean;
  sha256: string | null;
  copies: number;
  /** Copies printed well, printing now (or interrupted, waiting to be resumed), and still to hand out. */
  printed: number;
  printing: number;
  remaining: number;
  /** Copies printing now and the ones that ended, newest first. */
  runs: FarmRun[];
  /** Why its remaining copies wait (null: none remain, or one starts now). */
  waiting: string | null;
  addedAt: number;
  addedBy: string | null;
}

/** A printer as the farm sees it. */
export interface FarmPrinterView {
  id: string;
  name: string;
  bed: BedState;
  autoStart: boolean;
  /** Why it takes no work now; null when it is free. */
  busy: string | null;
}

export interface FarmQueueView {
  items: FarmItem[];
  printers: FarmPrinterView[];
  /** The latest copies that ended (the entries they came from may have left the queue). */
  recent: FarmRun[];
}

/** What the farm reads of a printer. */
export interface FarmPrinterSource {
  id: string;
  record: { name: string };
  status: PrinterStatus;
  startJob(path: string): Promise<Result>;
}

export interface FarmQueueOptions {
  db: Database;
  files: FileStorage;
  analyses: Pick<AnalysisStore, "state" | "result">;
  bus: Bus;
  /** The printers, in the order the farm tries them. */
  printers(): FarmPrinterSource[];
  profile(printer: string): PrinterProfile;
  /** The state of the printer's own queue. */
  ownQueue(printer: string): QueueState;
  /** The job whose interrupted print the printer offers to resume (its stored checkpoint), if any. */
  interruptedJob(printer: string): string | undefined;
  /** A firmware family (firmware-quirks id) and the families it extends, nearest first. */
  firmwareLineage(family: string): string[];
  now?: () => number;
}

interface ItemRow {
  id: string;
  position: number;
  file: string;
  sha256: string | null;
  copies: number;
  added_at: number;
  added_by: string | null;
}

interface RunRow {
  id: number;
  item_id: string | null;
  printer_id: string;
  file: string;
  job_id: string | null;
  started_at: number;
  ended_at: number | null;
  outcome: RunOutcome | null;
  reason: string | null;
}

const problem = (code: string, message: string, hint = ""): { ok: false; error: Problem } => ({ ok: false, error: { code, message, hint } });
const ok = <T>(value: T): Result<T> => ({ ok: true, value });

/** Why a copy the host never saw end was put back. */
export const FARM_RESTART_REASON = "Layerline stopped while it printed; the copy went back to the queue.";
/** Why a copy open on a printer that was removed was put back. */
export const FARM_PRINTER_REMOVED_REASON = "The printer was removed; the copy went back to the queue.";
const RECENT_RUNS = 10;

export class FarmQueue {
  private readonly db: Database;
  private readonly now: () => number;
  /** What each analysed content needs, by sha256 (an analysis result is large to read). */
  private readonly needsCache = new Map<string, FileNeeds>();

  constructor(private readonly options: FarmQueueOptions) {
    this.db = options.db;
    this.now = options.now ?? Date.now;
    options.files.onMoved((from, to) => this.moved(from, to));
  }

  /**
   * The queue with each entry's copies, runs and why it waits, and the printers as the farm sees
   * them. `visible`: the printers the viewer may see (a key restricted to one printer sees no
   * other's name, runs or files; why an entry waits is then said of its printers only).
   */
  view(visible: (printer: string) => boolean = () => true): FarmQueueView {
    const printers = this.printerFacts().filter((p) => visible(p.id));
    const plan = planDispatch(this.entryFacts(), printers);
    const names = new Map(printers.map((p) => [p.id, p.name]));
    const runs = this.db.query("SELECT * FROM farm_queue_runs WHERE item_id IS NOT NULL ORDER BY id DESC").all() as RunRow[];
    const interrupted = this.interruptedRuns();
    const items = this.rows().map((r): FarmItem => {
      const own = runs.filter((run) => run.item_id === r.id);
      const counts = countRuns(own, interrupted);
      return {
        id: r.id,
        file: r.file,
        missing: !this.fileExists(r.file),
        sha256: r.sha256,
        copies: r.copies,
        ...counts,
        remaining: Math.max(0, r.copies - counts.printed - counts.printing),
        runs: own.filter((run) => visible(run.printer_id)).map((run) => runView(run, names, interrupted)),
        waiting: plan.waiting[r.id] ?? null,
        addedAt: r.added_at,
        addedBy: r.added_by,
      };
    });
    const ended = this.db.query("SELECT * FROM farm_queue_runs WHERE ended_at IS NOT NULL ORDER BY ended_at DESC, id DESC LIMIT ?").all(RECENT_RUNS * 20) as RunRow[];
    const recent = ended.filter((run) => visible(run.printer_id)).slice(0, RECENT_RUNS).map((run) => runView(run, names, interrupted));
    return {
      items,
      printers: printers.map((p) => ({ id: p.id, name: p.name, bed: p.bed, autoStart: p.autoStart, busy: notFree(p) })),
      recent,
    };
  }

  /** What the dispatcher should start now (and why the rest waits). */
  plan(): DispatchPlan {
    return planDispatch(this.entryFacts(), this.printerFacts());
  }

  /** Appends a stored, printable file with a number of copies. */
  add(path: string, copies: number, addedBy: string | null = null): Result<FarmItem> {
    const queueable = queueableFile(this.options.files, path);
    if (!queueable.ok) return queueable;
    const file = queueable.value;
    if ((this.db.query("SELECT COUNT(*) AS n FROM farm_queue_items").get() as { n: number }).n >= MAX_FARM_ITEMS) {
      return problem("queue_full", `The farm queue already holds ${MAX_FARM_ITEMS} files.`, "Remove some, or let it print first.");
    }
    const id = crypto.randomUUID();
    this.db
      .query("INSERT INTO farm_queue_items (id, position, file, sha256, copies, added_at, added_by) VALUES (?, (SELECT COALESCE(MAX(position), -1) + 1 FROM farm_queue_items), ?, ?, ?, ?, ?)")
      .run(id, file.path, file.sha256, copies, this.now(), addedBy);
    this.changed();
    return ok(this.item(id)!);
  }

  /** Sets how many copies an entry prints in all (not fewer than are printed or printing). */
  setCopies(itemId: string, copies: number): Result<FarmQueueView> {
    const row = this.row(itemId);
    if (!row) return this.noItem(itemId);
    const { printed, printing } = countRuns(this.runsOf(itemId), this.interruptedRuns());
    if (copies < printed + printing) {
      return problem("copies_taken", `${printed + printing} copies of ${row.file} are already printed or printing.`, `Ask for ${printed + printing} or more, or remove the entry.`);
    }
    this.db.query("UPDATE farm_queue_items SET copies = ? WHERE id = ?").run(copies, itemId);
    this.finishIfDone(itemId);
    this.changed();
    return ok(this.view());
  }

  /** Moves an entry to index `to` (0 = next; past the end = last). */
  move(itemId: string, to: number): Result<FarmQueueView> {
    const ids = reordered(this.rows().map((r) => r.id), itemId, to);
    if (!ids) return this.noItem(itemId);
    this.db.transaction(() => {
      const update = this.db.query("UPDATE farm_queue_items SET position = ? WHERE id = ?");
      ids.forEach((id, i) => update.run(i, id));
    })();
    this.changed();
    return ok(this.view());
  }

  /** Removes an entry: copies printing now go on, no more start. */
  remove(itemId: string): Result<FarmQueueView> {
    if (!this.detach([itemId])) return this.noItem(itemId);
    this.changed();
    return ok(this.view());
  }

  /** Removes every entry (copies printing now go on). */
  clear(): FarmQueueView {
    this.detach(this.rows().map((r) => r.id));
    this.changed();
    return this.view();
  }

  /** A user says the printer's bed is clear: it may take the next entry. */
  bedCleared(printer: string): Result<FarmQueueView> {
    const p = this.options.printers().find((s) => s.id === printer);
    if (!p) return problem("printer_not_found", `There is no printer "${printer}".`, "GET /api/v1/printers lists them.");
    if (isJobRunning(p.status.job?.state)) return problem("busy", `${p.record.name} is printing.`, "Clear the bed once the print has ended.");
    this.setPrinter(printer, { bed: "clear" });
    return ok(this.view());
  }

  /** Whether the printer starts the next entry by itself after a print that ended well. */
  setAutoStart(printer: string, autoStart: boolean): Result<FarmQueueView> {
    if (!this.options.printers().some((s) => s.id === printer)) return problem("printer_not_found", `There is no printer "${printer}".`, "GET /api/v1/printers lists them.");
    this.setPrinter(printer, { autoStart });
    return ok(this.view());
  }

  /** What the farm knows of a printer's bed, and whether it starts by itself. */
  printerState(printer: string): Pick<FarmPrinterView, "bed" | "autoStart"> {
    const row = this.printerRow(printer);
    return { bed: row.bed, autoStart: row.auto_start === 1 };
  }

  /** Records that a copy of the entry goes to the printer (before it is asked to start); returns the run's id. */
  recordStart(itemId: string, printer: string, file: string): number {
    return this.db.transaction(() => {
      const run = this.db.query("INSERT INTO farm_queue_runs (item_id, printer_id, file, started_at) VALUES (?, ?, ?, ?)").run(itemId, printer, file, this.now());
      this.setPrinter(printer, { bed: "printing" }, false);
      return Number(run.lastInsertRowid);
    })();
  }

  /**
   * The printer refused the copy: the run ends failed with the refusal as its reason (the copy is
   * back in the queue), and the printer waits for a person to look, as after a failed print —
   * else the next dispatch would ask it again at once.
   */
  startRefused(runId: number, printer: string, error: Problem): void {
    this.db.transaction(() => {
      this.db.query("UPDATE farm_queue_runs SET ended_at = ?, outcome = 'failed', reason = ? WHERE id = ?").run(this.now(), `Could not start: ${error.message} ${error.hint}`.trim(), runId);
      this.setPrinter(printer, { bed: "stopped" }, false);
    })();
    this.changed();
  }

  /**
   * Records every printer's job transitions (onJobEvent) until the returned function is called:
   * after the printers have stopped, not with the dispatcher — a copy that ends while the host
   * stops would otherwise be put back at the next start and printed twice.
   */
  listen(log: (line: string) => void): () => void {
    return subscribe(this.options.bus, {
      "printer.event": ({ id, event }) => {
        try {
          this.onJobEvent(id, event);
        } catch (e) {
          log(`farm queue, printer ${id}: ${(e as Error).message}`);
        }
      },
      "printers.changed": () => {
        try {
          this.printersRemoved();
        } catch (e) {
          log(`farm queue: ${(e as Error).message}`);
        }
      },
    });
  }

  /**
   * Copies still open on a printer that was removed go back to the queue: its job events will
   * never come (a removal may overtake a start the dispatcher has just asked for), and an open
   * copy would otherwise count as printing for ever.
   */
  private printersRemoved(): void {
    const present = new Set(this.options.printers().map((p) => p.id));
    const open = this.db.query("SELECT id, printer_id FROM farm_queue_runs WHERE ended_at IS NULL").all() as Pick<RunRow, "id" | "printer_id">[];
    const gone = open.filter((r) => !present.has(r.printer_id));
    if (gone.length === 0) return;
    this.db.transaction(() => {
      const end = this.db.query("UPDATE farm_queue_runs SET ended_at = ?, outcome = 'failed', reason = ? WHERE id = ?");
      for (const r of gone) end.run(this.now(), FARM_PRINTER_REMOVED_REASON, r.id);
    })();
    this.changed();
  }

  /** Follows every printer's jobs: any print puts something on the bed; a farm copy's end is recorded. */
  onJobEvent(printer: string, event: PrinterEvent): void {
    if (event.type !== "job") return;
    if (event.state === "started") {
      const resumed = event.job.resumedFrom?.jobId;
      this.db.transaction(() => {
        this.setPrinter(printer, { bed: "printing" }, false);
        // A resumed copy carries on as the same run, under the new job.
        const carried = resumed
          ? this.db.query("UPDATE farm_queue_runs SET job_id = ?, ended_at = NULL, outcome = NULL, reason = NULL WHERE printer_id = ? AND job_id = ? AND outcome = 'failed'").run(event.job.id, printer, resumed).changes
          : 0;
        if (carried === 0) this.db.query("UPDATE farm_queue_runs SET job_id = ? WHERE printer_id = ? AND ended_at IS NULL AND job_id IS NULL AND file = ?").run(event.job.id, printer, event.file);
      })();
      this.changed();
      return;
    }
    if (event.state !== "done" && event.state !== "cancelled" && event.state !== "failed") return;
    const run = this.db
      .query("SELECT * FROM farm_queue_runs WHERE printer_id = ? AND ended_at IS NULL AND (job_id = ? OR (job_id IS NULL AND file = ?)) ORDER BY id DESC LIMIT 1")
      .get(printer, event.job.id, event.file) as RunRow | null;
    this.db.transaction(() => {
      this.setPrinter(printer, { bed: event.state === "done" ? "printed" : "stopped" }, false);
      if (run) this.db.query("UPDATE farm_queue_runs SET ended_at = ?, outcome = ?, reason = ? WHERE id = ?").run(this.now(), event.state, event.reason ?? null, run.id);
    })();
    if (run?.item_id) this.finishIfDone(run.item_id);
    this.changed();
  }

  /**
   * At start, before any printer runs: copies the host never saw end are failed — back in the
   * queue unless their printer offers to resume them (see interruptedRuns) — and their beds need a look.
   */
  recover(): void {
    this.db.transaction(() => {
      this.db.query("UPDATE farm_queue_runs SET ended_at = ?, outcome = 'failed', reason = ? WHERE ended_at IS NULL").run(this.now(), FARM_RESTART_REASON);
      this.db.query("UPDATE farm_printers SET bed = 'stopped', updated_at = ? WHERE bed = 'printing'").run(this.now());
    })();
  }

  /** The entries as the pure planner takes them. */
  private entryFacts(): FarmEntryFacts[] {
    const taken = new Map<string, number>();
    for (const r of this.db.query("SELECT item_id, COUNT(*) AS n FROM farm_queue_runs WHERE item_id IS NOT NULL AND (outcome IS NULL OR outcome = 'done') GROUP BY item_id").all() as { item_id: string; n: number }[]) {
      taken.set(r.item_id, r.n);
    }
    for (const [, item] of this.interruptedRuns()) if (item) taken.set(item, (taken.get(item) ?? 0) + 1);
    return this.rows().map((r) => {
      const file = this.storedFile(r.file);
      return { id: r.id, file: r.file, remaining: r.copies - (taken.get(r.id) ?? 0), missing: !file, needs: file ? this.needsOf(file.sha256) : "pending" };
    });
  }

  /** The printers as the pure planner takes them. */
  private printerFacts(): FarmPrinterFacts[] {
    return this.options.printers().map((s) => {
      const row = this.printerRow(s.id);
      return {
        id: s.id,
        name: s.record.name,
        state: s.status.state,
        jobRunning: isJobRunning(s.status.job?.state),
        interrupted: s.status.interrupted !== null,
        ownQueue: this.options.ownQueue(s.id),
        bed: row.bed,
        autoStart: row.auto_start === 1,
        profile: this.options.profile(s.id),
        firmware: s.status.firmware ? this.options.firmwareLineage(s.status.firmware.profile) : null,
      };
    });
  }

  /**
   * The failed copies whose printer offers to resume them (its interrupted print is their job) or
   * resumes them now (until the job's start event carries the run on), by run id, with their
   * entry: they stay taken until the user resumes (the run carries on) or discards (the copy goes
   * back to the queue).
   */
  private interruptedRuns(): Map<number, string | null> {
    const runs = new Map<number, string | null>();
    const find = this.db.query("SELECT id, item_id FROM farm_queue_runs WHERE printer_id = ? AND job_id = ? AND outcome = 'failed' ORDER BY id DESC LIMIT 1");
    for (const p of this.options.printers()) {
      const resuming = isJobRunning(p.status.job?.state) ? p.status.job?.resumedFrom?.jobId : undefined;
      for (const job of [this.options.interruptedJob(p.id), resuming]) {
        const run = job ? (find.get(p.id, job) as { id: number; item_id: string | null } | null) : null;
        if (run) runs.set(run.id, run.item_id);
      }
    }
    return runs;
  }

  private needsOf(sha256: string | null): FarmEntryFacts["needs"] {
    if (!sha256) return "pending";
    const cached = this.needsCache.get(sha256);
    if (cached) return cached;
    const state = this.options.analyses.state(sha256);
    if (!state) return "pending";
    if (state.status === "error") return { unreadable: state.error.message };
    const result = this.options.analyses.result(sha256);
    if (!result) return "pending";
    const needs = fileNeeds(result);
    this.needsCache.set(sha256, needs);
    return needs;
  }

  /** An entry whose copies all printed well leaves the queue (its runs stay for `recent`). */
  private finishIfDone(itemId: string): void {
    const row = this.row(itemId);
    if (row && countRuns(this.runsOf(itemId), this.interruptedRuns()).printed >= row.copies) this.detach([itemId]);
  }

  /** Deletes entries, keeping their runs (unlinked); returns whether any existed. */
  private detach(ids: string[]): boolean {
    let removed = 0;
    this.db.transaction(() => {
      for (const id of ids) {
        this.db.query("UPDATE farm_queue_runs SET item_id = NULL WHERE item_id = ?").run(id);
        removed += this.db.query("DELETE FROM farm_queue_items WHERE id = ?").run(id).changes;
      }
    })();
    return removed > 0;
  }

  private item(id: string): FarmItem | undefined {
    return this.view().items.find((i) => i.id === id);
  }

  private rows(): ItemRow[] {
    return this.db.query("SELECT * FROM farm_queue_items ORDER BY position, added_at").all() as ItemRow[];
  }

  private row(id: string): ItemRow | undefined {
    return (this.db.query("SELECT * FROM farm_queue_items WHERE id = ?").get(id) as ItemRow | null) ?? undefined;
  }

  private runsOf(itemId: string): RunRow[] {
    return this.db.query("SELECT * FROM farm_queue_runs WHERE item_id = ?").all(itemId) as RunRow[];
  }

  private printerRow(printer: string): { bed: BedState; auto_start: number } {
    return (this.db.query("SELECT bed, auto_start FROM farm_printers WHERE printer_id = ?").get(printer) as { bed: BedState; auto_start: number } | null) ?? { bed: "clear", auto_start: 0 };
  }

  private setPrinter(printer: string, change: { bed?: BedState; autoStart?: boolean }, announce = true): void {
    // A printer removed meanwhile has no row to keep (its row would break the foreign key).
    if (!this.options.printers().some((s) => s.id === printer)) return;
    const current = this.printerRow(printer);
    this.db
      .query("INSERT INTO farm_printers (printer_id, bed, auto_start, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (printer_id) DO UPDATE SET bed = excluded.bed, auto_start = excluded.auto_start, updated_at = excluded.updated_at")
      .run(printer, change.bed ?? current.bed, change.autoStart === undefined ? current.auto_start : change.autoStart ? 1 : 0, this.now());
    if (announce) this.changed();
  }

  private storedFile(path: string) {
    try {
      return this.options.files.get(path);
    } catch {
      return undefined;
    }
  }

  private fileExists(path: string): boolean {
    return this.storedFile(path) !== undefined;
  }

  /** A file or folder was moved or renamed: queued files in it follow. */
  private moved(from: string, to: string): void {
    const rows = this.rows().filter((r) => r.file === from || r.file.startsWith(`${from}/`));
    if (rows.length === 0) return;
    this.db.transaction(() => {
      const update = this.db.query("UPDATE farm_queue_items SET file = ? WHERE id = ?");
      for (const r of rows) update.run(to + r.file.slice(from.length), r.id);
    })();
    this.changed();
  }

  private noItem(itemId: string): { ok: false; error: Problem } {
    return problem("not_found", `There is no entry "${itemId}" in the farm queue.`, "GET /api/v1/farm/queue for its entries' ids.");
  }

  private changed(): void {
    this.options.bus.emit("farm.changed", undefined);
  }
}

function countRuns(runs: RunRow[], interrupted: Map<number, unknown>): { printed: number; printing: number } {
  return { printed: runs.filter((r) => r.outcome === "done").length, printing: runs.filter((r) => r.ended_at === null || interrupted.has(r.id)).length };
}

function runView(run: RunRow, names: Map<string, string>, interrupted: Map<number, unknown>): FarmRun {
  return {
    printer: run.printer_id,
    printerName: names.get(run.printer_id) ?? run.printer_id,
    file: run.file,
    startedAt: run.started_at,
    endedAt: run.ended_at,
    outcome: run.outcome,
    reason: run.reason,
    interrupted: interrupted.has(run.id),
  };
}
