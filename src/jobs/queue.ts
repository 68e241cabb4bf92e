/**
 * A print queue per printer, in sqlite: files waiting their turn, a mode and a state.
 *
 * - `idle`: the queue starts nothing by itself; `start` (printer idle) starts the head item.
 * - `printing`: the queue started the print that runs now. When it ends `done` in `auto` mode the
 *   next item starts at once; in every other case (`confirm` mode, or the print failed or was
 *   cancelled) the queue waits in
 * - `awaiting-confirmation` until the user confirms the bed is clear (`confirm`), which starts the
 *   next item (or just returns to `idle` when there is none).
 *
 * An item leaves the queue when its print starts. A queued file moved or renamed in the meantime
 * (or its folder) is followed; one deleted is shown missing and skipped with a notice. Every change is written before it is acted on (design principle 7); a print the
 * host never saw end (it stopped) leaves the queue waiting for confirmation at the next start.
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import { subscribe, type Bus } from "../events.ts";
import { isPrintable } from "../files/paths.ts";
import { FileError, type FileStorage, type StoredFile } from "../files/storage.ts";
import type { PrinterEvent, Result } from "../printers/controller.ts";
import { isJobRunning, type PrinterStatus, type Problem } from "../printers/status.ts";
import type { Outcome } from "./history.ts";

export const QUEUE_MODES = ["auto", "confirm"] as const;
export const QueueModeSchema = v.picklist(QUEUE_MODES, `mode is "auto" (start the next print when one ends well) or "confirm" (wait until the bed is confirmed clear)`);
export type QueueMode = v.InferOutput<typeof QueueModeSchema>;
export type QueueState = "idle" | "printing" | "awaiting-confirmation";

/** The most items one printer's queue holds. */
export const MAX_QUEUE_ITEMS = 1000;

export interface QueueItem {
  id: string;
  /** Path relative to the files folder (moves and renames since it was queued are followed). */
  file: string;
  /** The file was deleted since it was queued: the queue will skip it. */
  missing: boolean;
  /** Content hash when it was added (null if not known yet). */
  sha256: string | null;
  addedAt: number;
  addedBy: string | null;
}

export interface QueueNotice {
  level: "info" | "warning";
  message: string;
  at: number;
}

/** One printer's queue as the API and the page show it. */
export interface QueueView {
  printer: string;
  mode: QueueMode;
  state: QueueState;
  /** The file of the queue's latest print (running, or waiting for the bed to be cleared). */
  current: string | null;
  lastOutcome: Outcome | null;
  notice: QueueNotice | null;
  items: QueueItem[];
}

/** What the queue needs of a printer: its live status and starting a print. */
export interface QueuePrinter {
  status: PrinterStatus;
  startJob(path: string): Promise<Result>;
}

export interface QueueOptions {
  db: Database;
  files: FileStorage;
  bus: Bus;
  printer(id: string): QueuePrinter | undefined;
  now?: () => number;
}

interface StateRow {
  mode: QueueMode;
  state: QueueState;
  current_file: string | null;
  last_outcome: Outcome | null;
  notice: string | null;
  notice_level: "info" | "warning" | null;
  notice_at: number | null;
}

interface ItemRow {
  id: string;
  file: string;
  sha256: string | null;
  added_at: number;
  added_by: string | null;
}

const problem = (code: string, message: string, hint = ""): { ok: false; error: Problem } => ({ ok: false, error: { code, message, hint } });
const ok = <T>(value: T): Result<T> => ({ ok: true, value });

/** Said when the host finds a queue print it never saw end. */
export const RESTART_NOTICE = "Layerline stopped while the queue's print ran. Check the printer and the bed, then confirm to go on.";

export class PrintQueue {
  private readonly db: Database;
  private readonly now: () => number;
  /** Per printer, the tail of its chain of starts: one start at a time, in order. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly options: QueueOptions) {
    this.db = options.db;
    this.now = options.now ?? Date.now;
    options.files.onMoved((from, to) => this.moved(from, to));
  }

  /** A printer's queue: its items in order, mode, state and latest notice. */
  view(printer: string): QueueView {
    const s = this.state(printer);
    const items = (this.db.query("SELECT * FROM print_queue_items WHERE printer_id = ? ORDER BY position, added_at").all(printer) as ItemRow[]).map(
      (r): QueueItem => ({ id: r.id, file: r.file, missing: !this.fileExists(r.file), sha256: r.sha256, addedAt: r.added_at, addedBy: r.added_by }),
    );
    return {
      printer,
      mode: s.mode,
      state: s.state,
      current: s.current_file,
      lastOutcome: s.last_outcome,
      notice: s.notice && s.notice_level && s.notice_at !== null ? { level: s.notice_level, message: s.notice, at: s.notice_at } : null,
      items,
    };
  }

  /** Appends a stored, printable file to a printer's queue. */
  add(printer: string, path: string, addedBy: string | null = null): Result<QueueItem> {
    const queueable = queueableFile(this.options.files, path);
    if (!queueable.ok) return queueable;
    const file = queueable.value;
    const count = (this.db.query("SELECT COUNT(*) AS n FROM print_queue_items WHERE printer_id = ?").get(printer) as { n: number }).n;
    if (count >= MAX_QUEUE_ITEMS) return problem("queue_full", `The queue already holds ${MAX_QUEUE_ITEMS} files.`, "Remove some, or let it print first.");
    const item: QueueItem = { id: crypto.randomUUID(), file: file.path, missing: false, sha256: file.sha256, addedAt: this.now(), addedBy };
    this.db.transaction(() => {
      this.ensure(printer);
      this.db
        .query("INSERT INTO print_queue_items (id, printer_id, position, file, sha256, added_at, added_by) VALUES (?, ?, (SELECT COALESCE(MAX(position), -1) + 1 FROM print_queue_items WHERE printer_id = ?), ?, ?, ?, ?)")
        .run(item.id, printer, printer, item.file, item.sha256, item.addedAt, addedBy);
    })();
    this.changed(printer);
    return ok(item);
  }

  /** Moves an item to index `to` (0 = next to print; past the end = last). */
  move(printer: string, itemId: string, to: number): Result<QueueView> {
    const ids = reordered(this.itemIds(printer), itemId, to);
    if (!ids) return this.noItem(itemId);
    this.db.transaction(() => {
      const update = this.db.query("UPDATE print_queue_items SET position = ? WHERE id = ?");
      ids.forEach((id, i) => update.run(i, id));
    })();
    this.changed(printer);
    return ok(this.view(printer));
  }

  remove(printer: string, itemId: string): Result<QueueView> {
    if (this.db.query("DELETE FROM print_queue_items WHERE printer_id = ? AND id = ?").run(printer, itemId).changes === 0) return this.noItem(itemId);
    this.changed(printer);
    return ok(this.view(printer));
  }

  /** Removes every item; the mode stays, and a queue waiting for the bed stops waiting. */
  clear(printer: string): QueueView {
    this.db.transaction(() => {
      this.db.query("DELETE FROM print_queue_items WHERE printer_id = ?").run(printer);
      this.db.query("UPDATE print_queues SET state = 'idle', notice = NULL, updated_at = ? WHERE printer_id = ? AND state = 'awaiting-confirmation'").run(this.now(), printer);
    })();
    this.changed(printer);
    return this.view(printer);
  }

  setMode(printer: string, mode: QueueMode): QueueView {
    this.db.transaction(() => {
      this.ensure(printer);
      this.db.query("UPDATE print_queues SET mode = ?, updated_at = ? WHERE printer_id = ?").run(mode, this.now(), printer);
    })();
    this.changed(printer);
    return this.view(printer);
  }

  /** Starts the head item on an idle printer (the queue then goes on by its mode). */
  start(printer: string): Promise<Result<QueueView>> {
    return this.serially(printer, async () => {
      const s = this.state(printer);
      if (s.state === "awaiting-confirmation") {
        return problem("awaiting_confirmation", "The queue is waiting for you to confirm the bed is clear.", "Clear the bed, then confirm (POST …/queue/confirm).");
      }
      const busy = this.busy(printer);
      if (busy) return busy;
      return this.startHead(printer, s.state === "printing" ? "idle" : s.state, true);
    });
  }

  /**
   * `//action:start` from the printer's screen: the queue's next file, as its Start button does
   * (a queue waiting for the bed to be cleared counts it as the confirmation: someone is at the
   * printer). A refusal becomes the queue's notice, since nobody at the host asked.
   */
  async startFromPrinter(printer: string): Promise<void> {
    const waiting = this.state(printer).state === "awaiting-confirmation";
    const started = await (waiting ? this.confirm(printer) : this.start(printer));
    if (started.ok) return;
    await this.serially(printer, async () => {
      this.setState(printer, this.state(printer).state, { notice: { level: "warning", message: `The printer asked to start a print: ${started.error.message} ${started.error.hint ?? ""}`.trim() } });
      this.changed(printer);
    });
  }

  /** The user says the bed is clear: the next item starts (or the queue rests when it is empty). */
  confirm(printer: string): Promise<Result<QueueView>> {
    return this.serially(printer, async () => {
      if (this.state(printer).state !== "awaiting-confirmation") {
        return problem("not_waiting", "The queue is not waiting for a confirmation.", "It waits after a print ends in confirm mode, or after one failed or was cancelled.");
      }
      const busy = this.busy(printer);
      if (busy) return busy;
      if (this.itemIds(printer).length === 0) {
        this.setState(printer, "idle", { notice: null });
        return ok(this.view(printer));
      }
      return this.startHead(printer, "awaiting-confirmation", true);
    });
  }

  /** Follows a printer's job events: a queue print's end decides what comes next. */
  onJobEvent(printer: string, event: PrinterEvent): Promise<void> {
    if (event.type !== "job") return Promise.resolve();
    return this.serially(printer, async () => {
      const s = this.state(printer);
      if (event.state === "started") {
        // The queue's print, resumed after the host stopped: it is the queue's again.
        if (s.state === "awaiting-confirmation" && event.job?.resumedFrom && event.file === s.current_file) this.setState(printer, "printing", { notice: null });
        return;
      }
      if (event.state !== "done" && event.state !== "cancelled" && event.state !== "failed") return;
      if (s.state !== "printing") return;
      this.db.query("UPDATE print_queues SET last_outcome = ? WHERE printer_id = ?").run(event.state, printer);
      if (event.state === "done" && s.mode === "auto") {
        if (this.itemIds(printer).length === 0) this.setState(printer, "idle", { notice: { level: "info", message: "The queue is done: every file has been printed." } });
        else await this.startHead(printer, "awaiting-confirmation", false);
        return;
      }
      // The reason is a sentence of its own (with its full stop); the notice adds its own.
      const because = event.reason?.trim().replace(/[.!]+$/, "");
      const why = event.state === "done" ? "The print is done" : `The print ${event.state === "failed" ? "failed" : "was cancelled"}${because ? `: ${because}` : ""}`;
      this.setState(printer, "awaiting-confirmation", { notice: { level: event.state === "done" ? "info" : "warning", message: `${why}. Clear the bed and confirm to go on.` } });
    });
  }

  /** Follows every printer's job events on the bus; returns the function that stops it. */
  listen(): () => void {
    return subscribe(this.options.bus, {
      "printer.event": ({ id, event }) => {
        if (event.type === "job") this.onJobEvent(id, event).catch((e: Error) => console.error(`queue of printer ${id}: ${e.message}`));
        if (event.type === "startRequested") this.startFromPrinter(id).catch((e: Error) => console.error(`queue of printer ${id}: ${e.message}`));
      },
    });
  }

  /** At start, before any printer runs: a queue print the host never saw end needs a person to look. */
  recover(): void {
    this.db
      .query("UPDATE print_queues SET state = 'awaiting-confirmation', notice = ?, notice_level = 'warning', notice_at = ?, updated_at = ? WHERE state = 'printing'")
      .run(RESTART_NOTICE, this.now(), this.now());
  }

  /** Waits for the printer's queued operations (tests, shutdown). */
  settled(printer: string): Promise<void> {
    return this.serially(printer, async () => {});
  }

  /**
   * Starts the head item, skipping files deleted since they were queued. The item leaves the queue
   * and the state becomes `printing` before the printer is asked (so the print's events find it);
   * if the printer refuses, the item goes back to the head and the state to `fallback` — with the
   * refusal as the notice when nobody is there to read the answer (`answer` false).
   */
  private async startHead(printer: string, fallback: QueueState, answer: boolean): Promise<Result<QueueView>> {
    const session = this.options.printer(printer);
    if (!session) return problem("printer_not_found", `There is no printer "${printer}".`);
    const skipped: string[] = [];
    const previous = this.state(printer).current_file;
    for (;;) {
      const head = this.db.query("SELECT * FROM print_queue_items WHERE printer_id = ? ORDER BY position, added_at LIMIT 1").get(printer) as (ItemRow & { position: number }) | null;
      if (!head) {
        // Nothing (left) to print: the queue rests. Only an explicit start is told it did nothing.
        this.setState(printer, "idle", { notice: skipped.length ? { level: "warning", message: skippedText(skipped) } : null });
        if (answer && fallback === "idle") return problem("queue_empty", skipped.length ? `${skippedText(skipped)} Nothing is left to print.` : "The queue is empty.", "Add files first.");
        return ok(this.view(printer));
      }
      const exists = this.fileExists(head.file);
      this.db.transaction(() => {
        this.db.query("DELETE FROM print_queue_items WHERE id = ?").run(head.id);
        if (exists) this.setState(printer, "printing", { current: head.file, notice: skipped.length ? { level: "warning", message: skippedText(skipped) } : null });
      })();
      if (!exists) {
        skipped.push(head.file);
        continue;
      }
      this.changed(printer);
      const started = await session.startJob(head.file);
      if (started.ok) return ok(this.view(printer));
      this.db.transaction(() => {
        this.db
          .query("INSERT INTO print_queue_items (id, printer_id, position, file, sha256, added_at, added_by) VALUES (?, ?, ?, ?, ?, ?, ?)")
          .run(head.id, printer, head.position, head.file, head.sha256, head.added_at, head.added_by);
        // Only if no event of this print moved the state on meanwhile.
        if (this.state(printer).state === "printing") {
          const notice = answer ? null : { level: "warning" as const, message: `Could not start ${head.file}: ${started.error.message} ${started.error.hint}`.trim() };
          // The refused file never became the queue's print: the latest print stays the one shown.
          this.setState(printer, fallback, { current: previous, notice });
        }
      })();
      this.changed(printer);
      return started;
    }
  }

  private busy(printer: string): { ok: false; error: Problem } | undefined {
    const session = this.options.printer(printer);
    if (!session) return problem("printer_not_found", `There is no printer "${printer}".`);
    if (isJobRunning(session.status.job?.state)) return problem("busy", "The printer is printing.", "The queue goes on when this print ends.");
    return undefined;
  }

  /** Whether a queued file is still stored (moves and renames have already been followed). */
  private fileExists(path: string): boolean {
    try {
      return this.options.files.get(path) !== undefined;
    } catch {
      return false;
    }
  }

  /** A file or folder was moved or renamed: queued files in it follow (in every printer's queue). */
  private moved(from: string, to: string): void {
    const items = (this.db.query("SELECT id, printer_id, file FROM print_queue_items").all() as { id: string; printer_id: string; file: string }[]).filter(
      (i) => i.file === from || i.file.startsWith(`${from}/`),
    );
    if (items.length === 0) return;
    this.db.transaction(() => {
      const update = this.db.query("UPDATE print_queue_items SET file = ? WHERE id = ?");
      for (const item of items) update.run(to + item.file.slice(from.length), item.id);
    })();
    for (const printer of new Set(items.map((i) => i.printer_id))) this.changed(printer);
  }

  private state(printer: string): StateRow {
    return (
      (this.db.query("SELECT * FROM print_queues WHERE printer_id = ?").get(printer) as StateRow | null) ?? {
        mode: "confirm",
        state: "idle",
        current_file: null,
        last_outcome: null,
        notice: null,
        notice_level: null,
        notice_at: null,
      }
    );
  }

  private ensure(printer: string): void {
    this.db.query("INSERT INTO print_queues (printer_id, updated_at) VALUES (?, ?) ON CONFLICT (printer_id) DO NOTHING").run(printer, this.now());
  }

  /** Writes the state (and the current file and notice, where given). */
  private setState(printer: string, state: QueueState, change: { current?: string | null; notice?: Omit<QueueNotice, "at"> | null } = {}): void {
    this.ensure(printer);
    const now = this.now();
    this.db.query("UPDATE print_queues SET state = ?, updated_at = ? WHERE printer_id = ?").run(state, now, printer);
    if (change.current !== undefined) this.db.query("UPDATE print_queues SET current_file = ? WHERE printer_id = ?").run(change.current, printer);
    if (change.notice !== undefined) {
      const n = change.notice;
      this.db.query("UPDATE print_queues SET notice = ?, notice_level = ?, notice_at = ? WHERE printer_id = ?").run(n?.message ?? null, n?.level ?? null, n ? now : null, printer);
    }
    this.changed(printer);
  }

  private itemIds(printer: string): string[] {
    return (this.db.query("SELECT id FROM print_queue_items WHERE printer_id = ? ORDER BY position, added_at").all(printer) as { id: string }[]).map((r) => r.id);
  }

  private noItem(itemId: string): { ok: false; error: Problem } {
    return problem("not_found", `There is no item "${itemId}" in this queue.`, "GET the queue for its items' ids.");
  }

  private changed(printer: string): void {
    this.options.bus.emit("queue.changed", { printer });
  }

  /** Runs `fn` after the printer's earlier queue operations (starts never overlap). */
  private serially<T>(printer: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(printer) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => {});
    this.chains.set(printer, tail);
    void tail.then(() => {
      if (this.chains.get(printer) === tail) this.chains.delete(printer);
    });
    return run;
  }
}

const skippedText = (files: string[]) =>
  files.length === 1 ? `${files[0]} was deleted after it was queued; skipped.` : `${files.length} files were deleted after they were queued; skipped: ${files.join(", ")}.`;

/** A stored, printable file that may be queued at `path`, or why not (a queue's or the farm queue's add). */
export function queueableFile(files: FileStorage, path: string): Result<StoredFile> {
  let file;
  try {
    file = files.get(path);
  } catch (e) {
    if (e instanceof FileError) return problem(e.code, e.message, e.hint);
    throw e;
  }
  if (!file) {
    if (files.isFolder(path)) return problem("not_printable", `"${path}" is a folder.`, "Queue the files inside it one by one.");
    return problem("file_not_found", `There is no file "${path}".`, "GET /api/v1/files lists them; upload it first.");
  }
  if (!isPrintable(file.name)) return problem("not_printable", `"${file.name}" is not a G-code file.`, "Only .gcode, .gco and .g files can be printed.");
  return ok(file);
}

/** `ids` with `id` moved to index `to` (0 = first; past the end = last); undefined when it is not there. */
export function reordered(ids: string[], id: string, to: number): string[] | undefined {
  const from = ids.indexOf(id);
  if (from < 0) return undefined;
  const out = ids.filter((x) => x !== id);
  out.splice(Math.max(0, Math.min(to, out.length)), 0, id);
  return out;
}
