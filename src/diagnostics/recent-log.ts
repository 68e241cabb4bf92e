/**
 * The host's recent log, kept in memory for the support bundle: the lines the host logs, and —
 * under `layerline serve` — whatever the main thread writes to the console (warnings and errors,
 * a printer thread's restart included), each with its time. Bounded: the latest lines only.
 */

export interface LogRecord {
  t: number;
  stream: "log" | "error";
  text: string;
}

export const RECENT_LOG_LINES = 2000;

export class RecentLog {
  private readonly lines: LogRecord[] = [];

  constructor(private readonly capacity = RECENT_LOG_LINES) {}

  add(stream: LogRecord["stream"], text: string, t = Date.now()): void {
    for (const line of text.split("\n")) {
      if (line === "") continue;
      this.lines.push({ t, stream, text: line });
    }
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  records(): LogRecord[] {
    return [...this.lines];
  }

  /** `2026-11-22T18:07:03.120Z error Lost the connection …`, one line each. */
  text(): string {
    return this.lines.map((l) => `${new Date(l.t).toISOString()} ${l.stream === "error" ? "error" : "info "} ${l.text}`).join("\n");
  }
}

/**
 * Copies everything written with console.log/info/warn/error into `log` as well (the console
 * still gets it). For `layerline serve` only: a host inside a test keeps its console to itself.
 * Returns the function that puts the console back.
 */
export function teeConsole(log: RecentLog): () => void {
  const original = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const format = (args: unknown[]) => args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : Bun.inspect(a))).join(" ");
  console.log = (...args: unknown[]) => (log.add("log", format(args)), original.log(...args));
  console.info = (...args: unknown[]) => (log.add("log", format(args)), original.info(...args));
  console.warn = (...args: unknown[]) => (log.add("error", format(args)), original.warn(...args));
  console.error = (...args: unknown[]) => (log.add("error", format(args)), original.error(...args));
  return () => Object.assign(console, original);
}
