/**
 * A download progress bar for the terminal: redrawn in place on a TTY, a line per tenth when the
 * output is a log (systemd journal, a pipe).
 */

const MB = 1024 * 1024;

/** One line of progress. progressLine(5 MB, 10 MB, 2000) → "[###############---------------]  50%  5.0/10.0 MB  2.5 MB/s". */
export function progressLine(received: number, total: number, elapsedMs: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, received / total) : 0;
  const filled = Math.round(fraction * width);
  const rate = elapsedMs > 0 ? received / (elapsedMs / 1000) : 0;
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${pct}  ${(received / MB).toFixed(1)}/${(total / MB).toFixed(1)} MB  ${(rate / MB).toFixed(1)} MB/s`;
}

interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class TerminalProgress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastTenth = -1;
  private drawn = false;

  constructor(private readonly out: Output = process.stdout) {}

  update(received: number, total: number): void {
    const now = Date.now();
    if (this.out.isTTY) {
      if (now - this.lastDraw < 100 && received < total) return;
      this.lastDraw = now;
      this.out.write(`\r${progressLine(received, total, now - this.started)}`);
      this.drawn = true;
      return;
    }
    const tenth = total > 0 ? Math.floor((received / total) * 10) : 0;
    if (tenth === this.lastTenth) return;
    this.lastTenth = tenth;
    this.out.write(`${progressLine(received, total, now - this.started)}\n`);
  }

  /** Ends the bar's line (on a TTY). */
  finish(): void {
    if (this.drawn) this.out.write("\n");
    this.drawn = false;
  }
}
