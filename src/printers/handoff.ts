/**
 * What a printer's thread leaves in shared memory for the thread that replaces it when the
 * watchdog has to stop it (a plugin's hook that never returns, see session.ts): the tty's file
 * descriptor (kept open across the restart: closing a USB serial port drops DTR, which resets
 * many printers), where its print stands on the link — the last line number written whole, the
 * last acknowledged, the end of the last file line written whole — whether lines are being sent
 * again, and the start of a reply it had begun reading.
 *
 * Written on the serial path: a few stores per write, per flush and per received chunk, never a
 * message. The stopped thread writes nothing more, so the main thread reads a settled record.
 */

/** Int32 words. */
const FD = 0;
const WRITTEN_N = 1;
const ACKED_N = 2;
const CONTINUABLE = 3;
const RESENDING = 4;
const PARTIAL = 5;
const INT_WORDS = 8;
/** Then one Float64 (file offsets pass 2^31), then the partial reply's bytes. */
const OFFSET_BYTE = INT_WORDS * 4;
const PARTIAL_BYTE = OFFSET_BYTE + 8;
/** The longest unfinished reply kept (the usual ones are far shorter; a longer one is dropped whole). */
export const PARTIAL_MAX = 256;
const BYTES = PARTIAL_BYTE + PARTIAL_MAX;

/** The record as the main thread reads it once the thread is stuck. */
export interface Handoff {
  /** The tty's descriptor in this process, or -1 when no serial link was open. */
  fd: number;
  /** Line numbers: the last written whole (new lines, not repeats; -2 while a write waits for room in the kernel), and the last acknowledged. */
  writtenN: number;
  ackedN: number;
  /** A host print was streaming its file (not starting, pausing, cancelling, finishing, resuming). */
  continuable: boolean;
  /** Lines were being sent again after a resend request. */
  resending: boolean;
  /** End of the last file line all of whose lines were written, or -1 when none of this job's was. */
  offset: number;
  /** The start of a reply the thread had read without its end; null when it was too long to keep. */
  partial: Uint8Array | null;
}

export function handoffBuffer(): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(BYTES);
  new HandoffWriter(buffer).clear();
  return buffer;
}

/** The printer thread's side. */
export class HandoffWriter {
  private readonly words: Int32Array;
  private readonly offset: Float64Array;
  /** Where the line splitter keeps an unfinished reply (see LineSplitter). */
  readonly partialBytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, INT_WORDS);
    this.offset = new Float64Array(buffer, OFFSET_BYTE, 1);
    this.partialBytes = new Uint8Array(buffer, PARTIAL_BYTE, PARTIAL_MAX);
  }

  clear(): void {
    this.words.fill(0);
    this.words[FD] = -1;
    this.words[WRITTEN_N] = -1;
    this.words[ACKED_N] = -1;
    this.offset[0] = -1;
  }

  tty(fd: number): void {
    Atomics.store(this.words, FD, fd);
  }

  /** After a write: the last line number written and the end of the last file line written whole. */
  written(n: number, offset: number, resending: boolean): void {
    this.offset[0] = offset;
    Atomics.store(this.words, RESENDING, resending ? 1 : 0);
    // Last: the main thread reads it first, and everything stored before it is then visible.
    Atomics.store(this.words, WRITTEN_N, n);
  }

  acked(n: number): void {
    Atomics.store(this.words, ACKED_N, n);
  }

  continuable(on: boolean): void {
    Atomics.store(this.words, CONTINUABLE, on ? 1 : 0);
  }

  /** Bytes of an unfinished reply in `partialBytes` (-1: longer than kept). */
  partial(length: number): void {
    Atomics.store(this.words, PARTIAL, length);
  }
}

/** The main thread's side: the record as the stopped thread left it. */
export function readHandoff(buffer: SharedArrayBuffer): Handoff {
  const words = new Int32Array(buffer, 0, INT_WORDS);
  const writtenN = Atomics.load(words, WRITTEN_N);
  const partial = Atomics.load(words, PARTIAL);
  return {
    fd: Atomics.load(words, FD),
    writtenN,
    ackedN: Atomics.load(words, ACKED_N),
    continuable: Atomics.load(words, CONTINUABLE) === 1,
    resending: Atomics.load(words, RESENDING) === 1,
    offset: new Float64Array(buffer, OFFSET_BYTE, 1)[0]!,
    partial: partial < 0 ? null : new Uint8Array(buffer, PARTIAL_BYTE, PARTIAL_MAX).slice(0, partial),
  };
}
