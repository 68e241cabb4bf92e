/**
 * The history recorder on a real bus and a real sqlite file: rows from job events (idempotent per
 * job id), prints that never ended, filters and paging, statistics per file, CSV quoting.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/database.ts";
import { createBus, type Bus } from "../../src/events.ts";
import { csvCell, csvStream } from "../../src/jobs/history-csv.ts";
import { HistoryQuerySchema, HistoryStore, INTERRUPTED_REASON } from "../../src/jobs/history.ts";
import * as v from "valibot";
import { historyResults } from "../../views/history.ts";
import type { Checkpoint } from "../../src/jobs/plan.ts";
import { jobEvent } from "./events.ts";

let dir: string;
let db: Database;
let bus: Bus;
let history: HistoryStore;
let stop: () => void;

const A = "a".repeat(64);
const B = "b".repeat(64);
const T0 = Date.UTC(2026, 4, 1, 12);
const DAY = 86_400_000;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "layerline-history-"));
  db = openDatabase(dir);
  bus = createBus();
  history = new HistoryStore(db);
  stop = history.listen(bus, (id) => ({ left: "Left printer", right: "Right, \"the big one\"" })[id]);
});
afterAll(() => {
  stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A whole print on the bus: started, then its end. */
function print(printer: string, id: string, end: "done" | "cancelled" | "failed", o: { file?: string; sha256?: string | null; at?: number; printTime?: number; reason?: string; notes?: string[] } = {}) {
  const at = o.at ?? T0;
  const base = { id, file: o.file ?? "parts/bracket.gcode", sha256: o.sha256 === undefined ? A : o.sha256, startedAt: at };
  bus.emit("printer.event", { id: printer, event: jobEvent("started", base) });
  bus.emit("printer.event", { id: printer, event: jobEvent(end, { ...base, endedAt: at + 60_000, reason: o.reason ?? null, ...(o.notes ? { notes: o.notes } : {}) }, { printTime: o.printTime ?? 100, filament: 1234.5 }) });
}

describe("recording", () => {
  test("a print becomes one row when it starts and is completed when it ends", () => {
    const started = jobEvent("started", { id: "j1", sha256: A, startedAt: T0 });
    bus.emit("printer.event", { id: "left", event: started });
    const open = history.list({ outcome: "printing" }).items;
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ jobId: "j1", printer: "left", printerName: "Left printer", outcome: "printing", endedAt: null });
    bus.emit("printer.event", { id: "left", event: jobEvent("paused", { id: "j1", sha256: A, startedAt: T0 }, { printTime: 40, filament: 500 }) });
    expect(history.list({ outcome: "printing" }).items[0]).toMatchObject({ printTime: 40, filament: 500 });
    bus.emit("printer.event", { id: "left", event: jobEvent("done", { id: "j1", sha256: A, startedAt: T0, endedAt: T0 + 90_000 }, { printTime: 80, filament: 900 }) });
    const [row] = history.list({ q: "bracket" }).items;
    expect(row).toMatchObject({ jobId: "j1", outcome: "done", endedAt: T0 + 90_000, printTime: 80, filament: 900, reason: null, name: "bracket.gcode", sha256: A, source: "host" });
  });

  test("repeated events change nothing (idempotent per job id)", () => {
    const before = history.list().items;
    bus.emit("printer.event", { id: "left", event: jobEvent("started", { id: "j1", sha256: A, startedAt: T0 }) });
    bus.emit("printer.event", { id: "left", event: jobEvent("failed", { id: "j1", sha256: A, startedAt: T0, reason: "late" }, { printTime: 5, filament: 1 }) });
    expect(history.list().items).toEqual(before);
  });

  test("an end without a start seen makes the whole row; the reason is kept for failures", () => {
    bus.emit("printer.event", { id: "right", event: jobEvent("failed", { id: "j2", sha256: A, startedAt: T0 + 1000, endedAt: T0 + 5000, reason: "Thermal runaway on the hotend." }, { printTime: 4, filament: 10 }) });
    const row = history.list({ printer: "right" }).items[0]!;
    expect(row).toMatchObject({ jobId: "j2", outcome: "failed", reason: "Thermal runaway on the hotend.", printerName: 'Right, "the big one"' });
    // Other events and non-job events are ignored.
    bus.emit("printer.event", { id: "right", event: { type: "notice", level: "info", message: "hello" } });
    expect(history.list().total).toBe(2);
  });

  test("a print the host never saw end is closed as failed at the next start", () => {
    bus.emit("printer.event", { id: "left", event: jobEvent("started", { id: "j3", sha256: B, file: "lost.gcode", startedAt: T0 + 2000 }) });
    expect(history.closeInterrupted()).toBe(1);
    expect(history.list({ q: "lost" }).items[0]).toMatchObject({ outcome: "failed", reason: INTERRUPTED_REASON, endedAt: null });
    // The resumed print is a new job, marked as resumed.
    bus.emit("printer.event", { id: "left", event: jobEvent("started", { id: "j4", sha256: B, file: "lost.gcode", startedAt: T0 + 3000, resumedFrom: { jobId: "j3", offset: 1000, layer: 3 } }) });
    expect(history.list({ q: "lost", outcome: "printing" }).items[0]).toMatchObject({ jobId: "j4", resumed: true });
    expect(history.closeInterrupted()).toBe(1);
  });

  test("a print the host never saw end keeps its last checkpoint: when it stopped, time, filament, where", () => {
    bus.emit("printer.event", { id: "left", event: jobEvent("started", { id: "j5", sha256: B, file: "cut-short.gcode", startedAt: T0 }) });
    bus.emit("printer.event", { id: "right", event: jobEvent("started", { id: "j6", sha256: B, file: "other.gcode", startedAt: T0 }) });
    const state = { x: 1, y: 2, z: 2.6, e: 30, relative: false, extruderMode: "follow" as const, feedrate: 1200, fan: 255, tool: 0, targets: {}, extruded: 812.345 };
    const cp: Checkpoint = {
      jobId: "j5", file: "cut-short.gcode", sha256: B, source: "host", size: 10_000, startedAt: T0, printTime: 1234.4, offset: 3170, line: 400,
      layer: { index: 12, count: 40, offset: 3000, z: 2.6, state }, state, temperatures: {}, cancelled: [], paused: false, at: T0 + 1_300_000,
    };
    // The right printer's checkpoint is of an older job: its row is closed without it.
    const old = { ...cp, jobId: "j0", at: T0 - 1 };
    expect(history.closeInterrupted((printer) => ({ left: cp, right: old })[printer])).toBe(2);
    expect(history.list({ q: "cut-short" }).items[0]).toMatchObject({
      outcome: "failed", endedAt: T0 + 1_300_000, printTime: 1234, filament: 812.3,
      reason: `${INTERRUPTED_REASON} It stopped at layer 13 of 40 (Z 2.60 mm), 31.7 % done.`,
    });
    expect(history.list({ q: "other" }).items[0]).toMatchObject({ outcome: "failed", endedAt: null, printTime: 0, reason: INTERRUPTED_REASON });
  });
});

describe("listing, statistics and export", () => {
  beforeAll(() => {
    db.exec("DELETE FROM print_history");
    print("left", "k1", "done", { at: T0, printTime: 100 });
    print("left", "k2", "done", { at: T0 + DAY, printTime: 200 });
    print("left", "k3", "failed", { at: T0 + 2 * DAY, printTime: 30, reason: "Heating failed." });
    print("right", "k4", "done", { at: T0 + 3 * DAY, printTime: 400 });
    print("right", "k5", "cancelled", { at: T0 + 4 * DAY, printTime: 50, file: "100%_infill_v2.gcode", sha256: B });
    print("right", "k6", "done", { at: T0 + 5 * DAY, printTime: 60, file: "=cmd|' /C calc'!A0.gcode", sha256: null });
  });

  test("filters: printer, outcome, name (wildcards are literal), dates; paging; newest first", () => {
    expect(history.list().items.map((e) => e.jobId)).toEqual(["k6", "k5", "k4", "k3", "k2", "k1"]);
    expect(history.list({ printer: "left" }).total).toBe(3);
    expect(history.list({ outcome: "done" }).total).toBe(4);
    expect(history.list({ outcome: "cancelled" }).items.map((e) => e.jobId)).toEqual(["k5"]);
    expect(history.list({ q: "100%_" }).items.map((e) => e.jobId)).toEqual(["k5"]);
    expect(history.list({ q: "%" }).items.map((e) => e.jobId)).toEqual(["k5"]);
    expect(history.list({ q: "BRACKET" }).total).toBe(4);
    expect(history.list({ from: T0 + DAY, to: T0 + 3 * DAY }).items.map((e) => e.jobId)).toEqual(["k4", "k3", "k2"]);
    const page = history.list({ limit: 2, offset: 2 });
    expect(page).toMatchObject({ total: 6 });
    expect(page.items.map((e) => e.jobId)).toEqual(["k4", "k3"]);
    expect(history.list({ sha256: B }).items.map((e) => e.jobId)).toEqual(["k5"]);
  });

  test("statistics per file, on every printer or one", () => {
    const all = history.statsFor(A);
    expect(all).toEqual({
      sha256: A,
      printer: null,
      prints: 4,
      successes: 3,
      failures: 1,
      successRate: 0.75,
      averagePrintTime: (100 + 200 + 400) / 3,
      lastPrintTime: 400,
      last: { outcome: "done", endedAt: T0 + 3 * DAY + 60_000, printTime: 400 },
    });
    const left = history.statsFor(A, "left");
    expect(left).toMatchObject({ printer: "left", prints: 3, successes: 2, successRate: 2 / 3, averagePrintTime: 150, lastPrintTime: 200 });
    expect(left.last).toEqual({ outcome: "failed", endedAt: T0 + 2 * DAY + 60_000, printTime: 30 });
    expect(history.statsFor(B)).toMatchObject({ prints: 1, successes: 0, successRate: 0, averagePrintTime: null, lastPrintTime: null });
    expect(history.statsFor("c".repeat(64))).toMatchObject({ prints: 0, successRate: null, averagePrintTime: null, last: null });
  });

  test("per-file summaries group by content (files without a hash by name)", () => {
    const files = history.files();
    expect(files.map((f) => [f.file, f.prints, f.successes])).toEqual([
      ["=cmd|' /C calc'!A0.gcode", 1, 1],
      ["100%_infill_v2.gcode", 1, 0],
      ["parts/bracket.gcode", 4, 3],
    ]);
    expect(files[2]).toMatchObject({ sha256: A, successRate: 0.75, averagePrintTime: (100 + 200 + 400) / 3, lastPrintedAt: T0 + 3 * DAY });
    expect(history.files({ printer: "left" }).map((f) => f.prints)).toEqual([3]);
  });

  test("delete removes one entry", () => {
    const id = history.list({ q: "infill" }).items[0]!.id;
    expect(history.get(id)?.jobId).toBe("k5");
    expect(history.delete(id)).toBe(true);
    expect(history.delete(id)).toBe(false);
    expect(history.get(id)).toBeUndefined();
  });
});

describe("resumed prints: one print in linked parts", () => {
  const C = "c".repeat(64);
  const D = "d".repeat(64);
  const job = (id: string, o: Partial<{ from: string; at: number; sha256: string }> = {}) => ({
    id, file: "farm/part, v2.gcode", sha256: o.sha256 ?? C, startedAt: o.at ?? T0, ...(o.from ? { resumedFrom: { jobId: o.from, offset: 4000, layer: 7 } } : {}),
  });
  const emit = (e: ReturnType<typeof jobEvent>) => bus.emit("printer.event", { id: "left", event: e });
  const entry = (jobId: string) => history.list({ limit: 500 }).items.find((e) => e.jobId === jobId)!;

  beforeAll(() => {
    db.exec("DELETE FROM print_history");
    // r1 is interrupted (the host stops), r2 resumes it and finishes.
    emit(jobEvent("started", job("r1")));
    emit(jobEvent("paused", job("r1"), { printTime: 200, filament: 700 }));
    history.closeInterrupted();
  });

  test("while the resumed part prints, the print is not finished: no statistics yet", () => {
    emit(jobEvent("started", job("r2", { from: "r1", at: T0 + 1000 })));
    expect(history.statsFor(C)).toMatchObject({ prints: 0, successes: 0, last: null });
    expect(entry("r2")).toMatchObject({ resumed: true, resumedFrom: entry("r1").id, outcome: "printing" });
    expect(entry("r1")).toMatchObject({ outcome: "failed", resumedAs: entry("r2").id, resumedFrom: null });
  });

  test("a resumed print counts once, with its last part's outcome and the print time of all its parts", () => {
    emit(jobEvent("done", { ...job("r2", { from: "r1", at: T0 + 1000 }), endedAt: T0 + 9000 }, { printTime: 300, filament: 900 }));
    expect(history.statsFor(C)).toEqual({
      sha256: C, printer: null, prints: 1, successes: 1, failures: 0, successRate: 1, averagePrintTime: 500, lastPrintTime: 500,
      last: { outcome: "done", endedAt: T0 + 9000, printTime: 500 },
    });
    expect(history.statsFor(C, "left")).toMatchObject({ prints: 1, successes: 1, averagePrintTime: 500 });
    expect(history.files().map((f) => [f.file, f.prints, f.successes, f.averagePrintTime])).toEqual([["farm/part, v2.gcode", 1, 1, 500]]);
    // Both parts stay in the history, each as it happened.
    expect(history.list().total).toBe(2);
    expect(history.get(entry("r2").id)).toMatchObject({ resumedFrom: entry("r1").id, resumedAs: null });
    // A filter on outcomes picks the print by its last part: no failed print of this file.
    expect(history.files({ outcome: "failed" })).toEqual([]);
  });

  test("a print interrupted twice is one chain; a plain print beside it counts on its own", () => {
    emit(jobEvent("started", job("s1", { sha256: D, at: T0 + DAY })));
    history.closeInterrupted();
    emit(jobEvent("started", job("s2", { sha256: D, from: "s1", at: T0 + DAY + 10 })));
    emit(jobEvent("paused", job("s2", { sha256: D, from: "s1" }), { printTime: 50, filament: 1 }));
    history.closeInterrupted();
    emit(jobEvent("cancelled", { ...job("s3", { sha256: D, from: "s2", at: T0 + DAY + 20 }), reason: "Cancelled by the user." }, { printTime: 25 }));
    print("left", "s4", "done", { sha256: D, at: T0 + 2 * DAY, printTime: 1000 });
    expect(history.statsFor(D)).toMatchObject({ prints: 2, successes: 1, failures: 1, averagePrintTime: 1000, lastPrintTime: 1000 });
    expect(db.query("SELECT job_id, print_chain FROM print_history WHERE sha256 = ? ORDER BY id").all(D)).toEqual([
      { job_id: "s1", print_chain: null },
      { job_id: "s2", print_chain: "s1" },
      { job_id: "s3", print_chain: "s1" },
      { job_id: "s4", print_chain: null },
    ]);
    expect(entry("s2")).toMatchObject({ resumedFrom: entry("s1").id, resumedAs: entry("s3").id });
  });

  test("the history page links the parts: each to the other, on the page of that file and printer", () => {
    const query = v.parse(HistoryQuerySchema, { sha256: C });
    const { items, total } = history.list(query);
    const page = String(historyResults({ query, form: {}, total, items, files: history.files({ sha256: C }), mayDelete: false, running: new Set() }));
    const [r1, r2] = [entry("r1").id, entry("r2").id];
    const href = (id: number) => `/history?printer=left&amp;q=farm%2Fpart%2C+v2.gcode#entry-${id}`;
    expect(page).toContain(`<tr data-entry="${r1}" id="entry-${r1}">`);
    expect(page).toContain(`data-resumed-from="${r1}" href="${href(r1)}">the interrupted part</a>`);
    expect(page).toContain(`data-resumed-as="${r2}" href="${href(r2)}">resumed later</a>`);
  });

  test("the CSV names the linked parts by entry id", async () => {
    const rows = parseCsv(await new Response(csvStream(history.each({ sha256: C }))).text());
    const at = (name: string) => rows[0]!.indexOf(name);
    const r2 = rows.find((r) => r[1] === "r2")!;
    const r1 = rows.find((r) => r[1] === "r1")!;
    expect(r2[at("resumed")]).toBe("true");
    expect(r2[at("resumed_from")]).toBe(r1[0]!);
    expect(r1[at("resumed_as")]).toBe(r2[0]!);
    expect(r1[at("resumed_from")]).toBe("");
  });
});

describe("CSV", () => {
  test("cells are quoted when needed and never start a formula", () => {
    expect(csvCell("plain.gcode")).toBe("plain.gcode");
    expect(csvCell("a,b.gcode")).toBe('"a,b.gcode"');
    expect(csvCell('say "hi".gcode')).toBe('"say ""hi"".gcode"');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell("cr\rhere")).toBe('"cr\rhere"');
    // Spreadsheets in many locales split on ";" (and tab): quoted, a name cannot smuggle in a formula cell.
    expect(csvCell("part;=HYPERLINK(1).gcode")).toBe('"part;=HYPERLINK(1).gcode"');
    expect(csvCell("part\t=1+1.gcode")).toBe('"part\t=1+1.gcode"');
    for (const start of ["=", "+", "-", "@", "\t", "\r"]) expect(csvCell(`${start}SUM(A1)`)).toBe(`"'${start}SUM(A1)"`);
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell(-3)).toBe("-3");
    expect(csvCell(null)).toBe("");
    expect(csvCell(true)).toBe("true");
  });

  test("the export streams a header and one line per entry, parseable back to the same values", async () => {
    print("left", "evil", "failed", { file: 'x,"y"\n+z.gcode', at: T0 + 9 * DAY, reason: "-1 degrees, \"really\"", notes: ["The plugin hangs never returned; the print went on after 1.6 s."] });
    const text = await new Response(csvStream(history.each({ printer: "left" }))).text();
    const rows = parseCsv(text);
    expect(rows[0]).toEqual(["id", "job", "printer", "printer_name", "file", "source", "sha256", "size_bytes", "started", "ended", "print_time_s", "outcome", "reason", "notes", "filament_mm", "resumed", "resumed_from", "resumed_as"]);
    expect(rows).toHaveLength(1 + history.list({ printer: "left" }).total);
    const evil = rows[1]!;
    expect(evil[1]).toBe("evil");
    expect(evil[4]).toBe('x,"y"\n+z.gcode');
    expect(evil[12]).toBe("'-1 degrees, \"really\"");
    expect(evil[8]).toBe(new Date(T0 + 9 * DAY).toISOString());
    expect(evil[11]).toBe("failed");
    expect(evil[13]).toBe("The plugin hangs never returned; the print went on after 1.6 s.");
    // No cell of the whole export starts a formula.
    for (const row of rows) for (const cell of row) expect(/^[=+\-@\t\r]/.test(cell)).toBe(false);
  });
});

/** A strict RFC 4180 reader (quoted cells with doubled quotes, CRLF between records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let cell = "";
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (text[i] === '"' && text[i + 1] === '"') (cell += '"'), (i += 2);
        else if (text[i] === '"') {
          i++;
          break;
        } else cell += text[i++];
      }
    } else while (i < text.length && text[i] !== "," && text[i] !== "\r") cell += text[i++];
    row.push(cell);
    if (text[i] === ",") i++;
    else {
      expect(text.slice(i, i + 2)).toBe("\r\n");
      i += 2;
      rows.push(row);
      row = [];
    }
  }
  return rows;
}
