/**
 * Print history as CSV (RFC 4180) for spreadsheets. File and printer names come from users, so a
 * cell is quoted when it holds a comma, quote or line break — or a semicolon or tab, which
 * spreadsheets in many locales split on (a name like `a;=cmd()` would become a formula cell) —
 * and text that a spreadsheet would run as a formula (starting with = + - @, tab or carriage
 * return) is prefixed with an apostrophe.
 */
import type { HistoryEntry } from "./history.ts";

const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell. Example: csvCell('=HYPERLINK("x")') → `"'=HYPERLINK(""x"")"`. */
export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return "";
  if (typeof value !== "string") return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",;\t\r\n]/.test(text) || text !== value ? `"${text.replace(/"/g, '""')}"` : text;
}

export const CSV_COLUMNS = [
  "id",
  "job",
  "printer",
  "printer_name",
  "file",
  "source",
  "sha256",
  "size_bytes",
  "started",
  "ended",
  "print_time_s",
  "outcome",
  "reason",
  "notes",
  "filament_mm",
  "resumed",
  "resumed_from",
  "resumed_as",
] as const;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** One entry as a CSV line (with its CRLF). */
export function csvLine(e: HistoryEntry): string {
  const cells = [e.id, e.jobId, e.printer, e.printerName, e.file, e.source, e.sha256, e.size, iso(e.startedAt), iso(e.endedAt), Math.round(e.printTime), e.outcome, e.reason, e.notes, Math.round(e.filament * 10) / 10, e.resumed, e.resumedFrom, e.resumedAs];
  return `${cells.map(csvCell).join(",")}\r\n`;
}

/** The whole export as a stream: the header, then the entries as they are read. */
export function csvStream(entries: Iterator<HistoryEntry>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      controller.enqueue(encoder.encode(`${CSV_COLUMNS.join(",")}\r\n`));
    },
    pull(controller) {
      // Some hundred rows per pull: few chunks, little memory.
      let chunk = "";
      for (let i = 0; i < 200; i++) {
        const next = entries.next();
        if (next.done) {
          if (chunk) controller.enqueue(encoder.encode(chunk));
          controller.close();
          return;
        }
        chunk += csvLine(next.value);
      }
      controller.enqueue(encoder.encode(chunk));
    },
    cancel() {
      entries.return?.();
    },
  });
}
