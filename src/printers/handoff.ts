/**
 * What a printer's thread leaves in shared memory for the thread that replaces it when the
 * watchdog has to stop it (a plugin's hook that never returns, see session.ts): the tty's file
 * descriptor (kept open across the restart: closing a USB serial port drops DTR, which resets
 * many printers), where its print stands on the link — the last line number written whole, the
 * last acknowledged, the end of the last file line written whole, how many lines it wrote and how
 * many answers it took (the lines between are those still owed an answer) — the last bytes it
 * wrote to the tty (the text of those lines, so the new thread can send one again when the
 * printer asks: continuation.ts `sentLines`), whether the firmware sends busy keep-alives, and
 * the start of a reply it had begun reading. A thread that takes the link over starts from the
 * record it took over (`inherit`), so it too can be replaced before the printer has answered.
 *
 * Written on the serial path: a few stores per write, per flush and per received line, and a copy
 * of the bytes written, never a message. The stopped thread writes nothing more, so the main
 * thread reads a settled record.
 */

/** Int32 words. */
const FD = 0;
const WRITTEN_N = 1;
const ACKED_N = 2;
const CONTINUABLE = 3;
const BUSY = 4;
const PARTIAL = 5;
/** Numbered lines written, and answers taken for them: counters that wrap (only their difference is read). */
const NUMBERED = 6;
const ANSWERED = 7;
/** 1 once the ring dropped bytes: what it keeps may start inside a line. */
const SENT_CUT = 8;
const INT_WORDS = 10;
/** Then two Float64 (file offsets pass 2^31): where the file stands, and the bytes written into the ring (since it last grew). */
const OFFSET_BYTE = INT_WORDS * 4;
const TOTAL_BYTE = OFFSET_BYTE + 8;
const PARTIAL_BYTE = TOTAL_BYTE + 8;
/** The longest unfinished reply kept (the usual ones are far shorter; a longer one is dropped whole). */
export const PARTIAL_MAX = 256;
const SENT_BYTE = PARTIAL_BYTE + PARTIAL_MAX;
/**
 * The last bytes written to the tty, a ring: at first SENT_MAX bytes, grown (up to SENT_LIMIT)
 * whenever what the printer may still ask for could span more (`keep`, from the engine's
 * `owedSpan`: the send window keeps at most the firmware's receive buffer — 127 bytes on Marlin —
 * beyond the line it runs in flight, so it grows only for a firmware without a line length
 * limit, such as Klipper, sent a line of kilobytes).
 */
export const SENT_MAX = 8192;
export const SENT_LIMIT = 1 << 20;

/** The record as the main thread reads it once the thread is stuck. */
export interface Handoff {
  /** The tty's descriptor in this process, or -1 when no serial link was open. */
  fd: number;
  /** Line numbers: the last written whole (new lines, not repeats; -2 while a write waits for room in the kernel), and the last acknowledged. */
  writtenN: number;
  ackedN: number;
  /** A host print was streaming its file (not starting, pausing, cancelling, finishing, resuming). */
  continuable: boolean;
  /** End of the last file line all of whose lines were written, or -1 when none of this job's was. */
  offset: number;
  /** The start of a reply the thread had read without its end; null when it was too long to keep. */
  partial: Uint8Array | null;
  /** Numbered lines written whole and answers taken for them (the engine's counts, wrapped to 32 bits): the last `numbered - answered` lines written are owed an answer. */
  numbered: number;
  answered: number;
  /** The firmware had sent busy keep-alives on this link. */
  busy: boolean;
  /** The last bytes written to the tty (as many as the ring held), oldest first; `sentWhole`: the ring never dropped any, so they start with a whole line. */
  sent: Uint8Array;
  sentWhole: boolean;
}

export function handoffBuffer(): SharedArrayBuffer {
  // Growable: the ring grows in place, seen by every thread that holds the buffer.
  const buffer = new SharedArrayBuffer(SENT_BYTE + SENT_MAX, { maxByteLength: SENT_BYTE + SENT_LIMIT });
  new HandoffWriter(buffer).clear();
  return buffer;
}

/** The printer thread's side. */
export class HandoffWriter {
  private readonly words: Int32Array;
  /** Where the file stands, and the bytes ever written. */
  private readonly floats: Float64Array;
  private readonly buffer: SharedArrayBuffer;
  private sent: Uint8Array;
  /** Where the line splitter keeps an unfinished reply (see LineSplitter). */
  readonly partialBytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, INT_WORDS);
    this.floats = new Float64Array(buffer, OFFSET_BYTE, 2);
    this.partialBytes = new Uint8Array(buffer, PARTIAL_BYTE, PARTIAL_MAX);
    this.sent = new Uint8Array(buffer, SENT_BYTE, buffer.byteLength - SENT_BYTE);
  }

  clear(): void {
    this.words.fill(0);
    this.words[FD] = -1;
    this.words[WRITTEN_N] = -1;
    this.words[ACKED_N] = -1;
    this.floats[0] = -1;
    this.floats[1] = 0;
    // A thread before may have grown the ring: it keeps its size (a growable buffer never shrinks).
    this.sent = new Uint8Array(this.buffer, SENT_BYTE, this.buffer.byteLength - SENT_BYTE);
  }

  /**
   * The ring keeps at least the last `bytes` written (the most that what the printer may still
   * ask for can span, see the engine's `owedSpan`): grown in place when it is smaller, what it
   * holds kept, up to SENT_LIMIT.
   */
  keep(bytes: number): void {
    const size = this.sent.length;
    if (bytes <= size || size >= SENT_LIMIT) return;
    let grown = size;
    while (grown < bytes && grown < SENT_LIMIT) grown *= 2;
    grown = Math.min(grown, SENT_LIMIT);
    const held = ringBytes(this.sent, this.floats[1]!);
    this.buffer.grow(SENT_BYTE + grown);
    this.sent = new Uint8Array(this.buffer, SENT_BYTE, grown);
    this.sent.set(held);
    this.floats[1] = held.length;
  }

  tty(fd: number): void {
    Atomics.store(this.words, FD, fd);
  }

  /** Bytes about to be written to the tty: kept, as many of the last as the ring holds. */
  sending(bytes: Uint8Array): void {
    const ring = this.sent;
    const size = ring.length;
    const total = this.floats[1]!;
    const length = bytes.length;
    if (length >= size) {
      // The last `size` bytes, laid out as the reader reads the ring: from where the next write starts.
      const tail = bytes.subarray(length - size);
      const at = (total + length) % size;
      ring.set(tail.subarray(0, size - at), at);
      ring.set(tail.subarray(size - at));
    } else {
      const at = total % size;
      const first = Math.min(length, size - at);
      ring.set(first === length ? bytes : bytes.subarray(0, first), at);
      if (first < length) ring.set(bytes.subarray(first));
    }
    this.floats[1] = total + length;
    if (total + length > size) Atomics.store(this.words, SENT_CUT, 1);
  }

  /**
   * A thread that takes the link over starts its record as the stopped thread left it (`sent`:
   * the bytes that thread wrote, oldest first; `whole`: they start with a whole line), so that
   * one stopped while it still takes over leaves what it inherited as its own: the text of the
   * lines owed and of those the printer may ask for again, and the order they went out in (which
   * tells copies refused by a resend request, and a resend under way). Its counts and line
   * numbers follow (`written`, `acked`).
   */
  inherit(sent: Uint8Array, whole: boolean): void {
    // A ring that had wrapped may start inside a line: kept from the first whole one.
    const newline = sent.indexOf(10);
    const from = whole ? 0 : newline < 0 ? sent.length : newline + 1;
    this.floats[1] = 0;
    Atomics.store(this.words, SENT_CUT, 0);
    this.sending(sent.subarray(from));
  }

  /**
   * After a write: the last line number written (-2 while a write waits for room in the kernel),
   * the end of the last file line written whole, and how many numbered lines were written.
   */
  written(n: number, offset: number, numbered: number): void {
    this.floats[0] = offset;
    Atomics.store(this.words, NUMBERED, numbered);
    // Last: the main thread reads it first, and everything stored before it is then visible.
    Atomics.store(this.words, WRITTEN_N, n);
  }

  /** The last line acknowledged, and the answers taken so far (before a plugin's hook may run). */
  acked(n: number, answered: number): void {
    Atomics.store(this.words, ANSWERED, answered);
    Atomics.store(this.words, ACKED_N, n);
  }

  /** The firmware sent a busy keep-alive. */
  busy(): void {
    Atomics.store(this.words, BUSY, 1);
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
  const floats = new Float64Array(buffer, OFFSET_BYTE, 2);
  const sent = ringBytes(new Uint8Array(buffer, SENT_BYTE, buffer.byteLength - SENT_BYTE), floats[1]!);
  return {
    fd: Atomics.load(words, FD),
    writtenN,
    ackedN: Atomics.load(words, ACKED_N),
    continuable: Atomics.load(words, CONTINUABLE) === 1,
    offset: floats[0]!,
    partial: partial < 0 ? null : new Uint8Array(buffer, PARTIAL_BYTE, PARTIAL_MAX).slice(0, partial),
    numbered: Atomics.load(words, NUMBERED),
    answered: Atomics.load(words, ANSWERED),
    busy: Atomics.load(words, BUSY) === 1,
    sent,
    sentWhole: Atomics.load(words, SENT_CUT) === 0,
  };
}

/** What a ring holds after `total` bytes were written into it, oldest first (a copy). */
function ringBytes(ring: Uint8Array, total: number): Uint8Array {
  const size = ring.length;
  if (total <= size) return ring.slice(0, total);
  const at = total % size;
  const out = new Uint8Array(size);
  out.set(ring.subarray(at));
  out.set(ring.subarray(0, at), size - at);
  return out;
}
