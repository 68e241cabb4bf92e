/**
 * The flight recorder: every line sent to and received from one printer, with its time, kept in
 * a bounded ring (the latest lines, for download at any moment) and appended to a rotating log
 * file under the data folder (`logs/serial-<printer>.jsonl`, then `.1.jsonl` … `.3.jsonl`).
 * Recording costs a few array stores per line on the serial path and allocates nothing; the file
 * is written from the ring in batches a few times a second, off the serial path (async appends,
 * one at a time), and the terminal reads its latest lines from the ring too.
 *
 * The format is JSONL, one object per line: `{"t":<ms since 1970>,"dir":"send"|"recv"|"info","line":"…"}`.
 */
import { appendFile, mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";

export type TraceDirection = "send" | "recv" | "info";

/** One recorded line. */
export interface TraceEntry {
  /** Wall-clock time in ms since 1970 (sub-millisecond resolution). */
  t: number;
  dir: TraceDirection;
  line: string;
}

export interface FlightRecorderOptions {
  /** Lines kept in memory. */
  capacity?: number;
  /** Where the log files go; none are written without it. */
  dir?: string;
  /** The printer's id, part of the file name. */
  name: string;
  /** Rotate when the current file reaches this size. */
  maxFileBytes?: number;
  /** Rotated files kept. */
  keepFiles?: number;
  /** How often buffered lines are written. */
  flushMs?: number;
}

const DIRS: TraceDirection[] = ["send", "recv", "info"];
// What each entry's JSONL line starts with, after its time, by direction.
const DIR_FIELDS = DIRS.map((d) => `,"dir":"${d}","line":`);
// Characters JSON.stringify would escape; lines without them are quoted as they are.
const NEEDS_ESCAPE = /["\\\x00-\x1f\x7f-\uffff]/;

// One entry as a JSONL line (with its newline). Written for every line on the wire, so
// `JSON.stringify` only for lines that need escaping (the usual ASCII lines are quoted as they are).
function jsonlLine(t: number, dir: number, line: string): string {
  return `{"t":${fixed3(t)}${DIR_FIELDS[dir]}${NEEDS_ESCAPE.test(line) ? JSON.stringify(line) : `"${line}"`}}\n`;
}

/**
 * `t.toFixed(3)`, the same text, about ten times cheaper for wall-clock times (ms since 1970). From
 * 2^32 on, `t - floor(t)` and its product with 1000 are exact in a double, so rounding that
 * product half up (as toFixed does) gives toFixed's digits.
 */
function fixed3(t: number): string {
  if (!(t >= 2 ** 32 && t < 2 ** 52)) return t.toFixed(3);
  let ms = Math.floor(t);
  let frac = Math.round((t - ms) * 1000);
  if (frac === 1000) {
    ms++;
    frac = 0;
  }
  return `${ms}.${frac < 10 ? "00" : frac < 100 ? "0" : ""}${frac}`;
}

/** The log files of a printer, oldest first (the ones that exist). */
export async function traceFiles(dir: string, name: string, keep = 3): Promise<string[]> {
  const out: string[] = [];
  for (let i = keep; i >= 0; i--) {
    const p = logPath(dir, name, i);
    if (await stat(p).then(() => true, () => false)) out.push(p);
  }
  return out;
}

function logPath(dir: string, name: string, index: number): string {
  return join(dir, index === 0 ? `serial-${name}.jsonl` : `serial-${name}.${index}.jsonl`);
}

export class FlightRecorder {
  private readonly capacity: number;
  private readonly times: Float64Array;
  private readonly dirs: Uint8Array;
  private readonly lines: string[];
  private next = 0;
  private count = 0;
  private lastT = 0;
  /** Lines recorded since the start; a reader keeps the value it has seen up to. */
  total = 0;
  private written = 0;
  /** Lines the file never got because the ring came round before a write (the disk too slow). */
  skipped = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private fileBytes = -1;
  /** Why the log file could not be written, if it could not (the ring still works). */
  fileError: string | undefined;

  constructor(private readonly options: FlightRecorderOptions) {
    this.capacity = options.capacity ?? 20_000;
    this.times = new Float64Array(this.capacity);
    this.dirs = new Uint8Array(this.capacity);
    this.lines = new Array<string>(this.capacity);
  }

  /** Records a line; `t` is ms since 1970 (kept in order: never before the previous line). */
  record(dir: TraceDirection, line: string, time: number): void {
    const t = time < this.lastT ? this.lastT : time;
    this.lastT = t;
    const i = this.next;
    this.times[i] = t;
    this.dirs[i] = dir === "send" ? 0 : dir === "recv" ? 1 : 2;
    this.lines[i] = line;
    this.next = i + 1 === this.capacity ? 0 : i + 1;
    if (this.count < this.capacity) this.count++;
    this.total++;
    if (this.options.dir) {
      if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.options.flushMs ?? 250);
      else if (this.total - this.written > this.capacity >> 1) void this.flush(); // a burst: write before the ring comes round
    }
  }

  /** The lines in the ring, oldest first. */
  entries(): TraceEntry[] {
    return this.since(this.total - this.count);
  }

  /** The lines recorded after the first `seen` (as many of them as the ring still holds), at most `max`, oldest first. */
  since(seen: number, max = Infinity): TraceEntry[] {
    const out: TraceEntry[] = [];
    this.eachSince(seen, max, (t, dir, line) => out.push({ t, dir: DIRS[dir]!, line }));
    return out;
  }

  /** The ring as JSONL. */
  jsonl(): string {
    return this.jsonlSince(this.total - this.count);
  }

  /** The lines after the first `seen` that the ring still holds, as JSONL, straight from the ring. */
  private jsonlSince(seen: number): string {
    let text = "";
    this.eachSince(seen, Infinity, (t, dir, line) => (text += jsonlLine(t, dir, line)));
    return text;
  }

  /** Calls `fn` for each line after the first `seen` the ring still holds, the last `max` at most, oldest first. */
  private eachSince(seen: number, max: number, fn: (t: number, dir: number, line: string) => void): void {
    const first = Math.max(seen, this.total - this.count, this.total - max);
    // The ring slot of the `first`-th line recorded since the start.
    let i = (((this.next - (this.total - first)) % this.capacity) + this.capacity) % this.capacity;
    for (let k = first; k < this.total; k++, i = i + 1 === this.capacity ? 0 : i + 1) fn(this.times[i]!, this.dirs[i]!, this.lines[i]!);
  }

  /** Writes what is buffered now; resolves when it is on disk. */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const dir = this.options.dir;
    if (!dir || this.written === this.total) return this.writing;
    const oldest = this.total - this.count;
    if (this.written < oldest) {
      this.skipped += oldest - this.written;
      this.written = oldest;
    }
    const text = this.jsonlSince(this.written);
    this.written = this.total;
    this.writing = this.writing.then(() => this.append(dir, text)).catch((e: Error) => {
      this.fileError = e.message;
    });
    return this.writing;
  }

  private async append(dir: string, text: string): Promise<void> {
    const current = logPath(dir, this.options.name, 0);
    if (this.fileBytes < 0) {
      await mkdir(dir, { recursive: true });
      this.fileBytes = await stat(current).then((s) => s.size, () => 0);
    }
    // Encoded once: its length decides the rotation, and the bytes are what is appended.
    const bytes = Buffer.from(text, "utf8");
    if (this.fileBytes > 0 && this.fileBytes + bytes.length > (this.options.maxFileBytes ?? 16 * 1024 * 1024)) {
      const keep = this.options.keepFiles ?? 3;
      await rm(logPath(dir, this.options.name, keep), { force: true });
      for (let i = keep - 1; i >= 0; i--) {
        await rename(logPath(dir, this.options.name, i), logPath(dir, this.options.name, i + 1)).catch(() => undefined);
      }
      this.fileBytes = 0;
    }
    await appendFile(current, bytes);
    this.fileBytes += bytes.length;
    this.fileError = undefined;
  }
}
