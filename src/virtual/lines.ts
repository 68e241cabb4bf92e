/**
 * Splits the byte stream from the host into lines, as the firmware's serial reader does: `\n` or
 * `\r` ends a line (so `\r\n` yields an extra empty line, which Marlin ignores), a line may span
 * any number of chunks, and the pieces of a line are joined only once it is complete.
 */

// Marlin keeps at most MAX_CMD_SIZE (96) characters of a line and the line checker cuts there
// (the personality's limit); Klipper has no limit, and its `EXCLUDE_OBJECT_DEFINE … POLYGON=[…]`
// lines run to a few hundred characters, a macro call's to kilobytes. This only bounds memory if
// a host never sends a newline.
const KEEP = 65536;

/** Example: `splitter.push("G1 X1\nG1", (l) => …)` emits "G1 X1"; "G1" waits for its `\n`. */
export class LineSplitter {
  private pending: string[] = [];
  private pendingLength = 0;

  /** Feeds a chunk; calls `emit` for every line completed by it (without its terminator), with the terminator's offset in `chunk`. */
  push(chunk: string, emit: (line: string, end: number) => void): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const piece = chunk.slice(start, i);
      if (this.pending.length > 0) {
        this.keep(piece);
        const line = this.pending.join("");
        this.pending = [];
        this.pendingLength = 0;
        emit(line, i);
      } else {
        emit(piece.length > KEEP ? piece.slice(0, KEEP) : piece, i);
      }
      start = i + 1;
    }
    if (start < chunk.length) this.keep(chunk.slice(start));
  }

  /** Forgets a partial line (after a reset the firmware starts with an empty buffer). */
  clear(): void {
    this.pending = [];
    this.pendingLength = 0;
  }

  private keep(piece: string): void {
    const room = KEEP - this.pendingLength;
    if (room <= 0) return;
    const kept = piece.length > room ? piece.slice(0, room) : piece;
    this.pending.push(kept);
    this.pendingLength += kept.length;
  }
}
