/**
 * Taking a print over from a stopped printer thread, on one simulated clock with the virtual
 * firmware (src/virtual/): a host engine streams a job and leaves in the handoff record what the
 * controller leaves (the bytes it writes, the lines written and the answers taken before each
 * received line and each flush); at a chosen point its thread "stops" — in a receive hook, losing
 * the reply it was taking and the rest of that read (and more, as Bun's read-ahead may), or in a
 * send hook — the firmware runs on for the watchdog's 1.5 s, and a new engine adopts the link from
 * the record alone (continuation.ts `sentLines`, engine `adopt`) and goes on from the first job
 * line not written whole. Whatever was lost, the firmware's own log must hold every job line
 * exactly once, in order, one line in flight and windowed (ADVANCED_OK), with and without damaged
 * lines (resends under way at the stop), and on Klipper, which does not number lines (its probe is
 * told apart by its answer).
 */
import { describe, expect, test } from "bun:test";
import { sentLines, type SentLines } from "../../src/printers/continuation.ts";
import { handoffBuffer, HandoffWriter, readHandoff } from "../../src/printers/handoff.ts";
import { ProtocolEngine, type EngineEvent } from "../../src/protocol/engine.ts";
import { VirtualFirmware } from "../../src/virtual/firmware.ts";
import type { VirtualPrinterOptionsInput } from "../../src/virtual/options.ts";
import { builtInLibrary } from "../helpers/quirks.ts";

const library = await builtInLibrary();
const encoder = new TextEncoder();
/** How long the watchdog lets a stuck printer thread be (while a print streams). */
const WATCHDOG_MS = 1500;

/** Distinct moves of 0.1 to 0.5 s each: the planner fills, so lines wait in flight for their oks. */
const MOVES = Array.from({ length: 160 }, (_, i) => `G1 X${10 + (i % 17) * 3} Y${10 + ((i * 7) % 23) * 2} F${1200 + (i % 5) * 600}`);
/** The same with long commands among them: homing, and heating the hotend (a minute and more, busy all along). */
const LONG = [...MOVES.slice(0, 40), "G28", ...MOVES.slice(40, 80), "M109 S200", ...MOVES.slice(80)];

type Hang =
  /** In a receive hook, on the `at`-th line received since the job started (that `on` matches); `readAhead` more lines were read and lost with it. */
  | { kind: "receive"; at: number; readAhead: number; on?: RegExp }
  /** In a send hook, on job line `at`. */
  | { kind: "send"; at: number };

interface Outcome {
  /** Job lines the firmware ran, in order. */
  ran: string[];
  sent: SentLines;
  /** The new engine's events. */
  events: EngineEvent[];
  /** The stopped engine was sending lines again (or refused copies were in flight) when it stopped. */
  resendingAtStop: boolean;
  /** The new engine's resend requests taken while adopting, and answers it found lost. */
  resendsWhileAdopting: number;
  lostOks: number;
  finished: boolean;
}

function print(hang: Hang, window: number, printer: VirtualPrinterOptionsInput, JOB: readonly string[] = MOVES): Outcome {
  const ran: string[] = [];
  const fw = new VirtualFirmware({ timeScale: 1, ...printer, onExecute: (l) => ran.push(l.command) }, 0);
  const record = handoffBuffer();
  const handoff = new HandoffWriter(record);
  let now = 0;
  let engine = new ProtocolEngine({ quirks: library.get("generic"), library, window });
  let old = true; // the thread that will stop
  let stopped = false;
  let streaming = false;
  let next = 0; // the next job line to hand over
  let received = 0;
  /** What the firmware sent that the host has not read yet (the tty). */
  let tty: string[] = [];
  let events: EngineEvent[] = [];
  let resendsWhileAdopting = 0;
  let dropFirst = false;
  let readSinceTakeover = false;

  const write = () => {
    const out = engine.takeOutgoing();
    if (out.length === 0) return;
    const text = `${out.join("\n")}\n`;
    // As the controller: the record keeps what the printer may still ask for, however long.
    if (old) {
      handoff.keep(engine.owedSpan);
      handoff.sending(encoder.encode(text));
    }
    fw.receive(text, now);
    if (old) handoff.written(engine.nextLineNumber - 1, engine.wholeTag(-1), engine.numberedSent);
  };
  /** As the controller's flush: answers taken (before any hook), job lines into free slots, writes, events. */
  const flush = () => {
    for (let round = 0; round < 100 && !stopped; round++) {
      if (old) handoff.acked(engine.lastAckedN, engine.numberedDone);
      while (streaming && engine.capacity() > 0 && next < JOB.length) {
        if (old && hang.kind === "send" && next === hang.at) {
          stopped = true; // what the engine took this round is never written
          return;
        }
        engine.enqueue(JOB[next]!, now, next);
        next++;
      }
      write();
      const e = engine.takeEvents();
      if (e.length === 0) return;
      if (old && e.some((x) => x.type === "busy")) handoff.busy();
      if (!old) {
        for (const x of e) {
          if (x.type === "probe" && !readSinceTakeover) dropFirst = false;
          if (x.type === "adoptFailed") streaming = false;
        }
        events.push(...e);
      }
    }
  };
  /** One read of what the tty holds: its lines, each published then handed to the engine, then a flush. */
  const read = () => {
    if (tty.length === 0) return;
    const chunk = tty;
    tty = [];
    for (let i = 0; i < chunk.length; i++) {
      const line = chunk[i]!;
      if (!old) {
        readSinceTakeover = true;
        if (dropFirst) {
          dropFirst = false;
          continue;
        }
        if (engine.isAdopting && /^(Resend|rs N)/.test(line)) resendsWhileAdopting++;
      } else {
        handoff.acked(engine.lastAckedN, engine.numberedDone);
        if (streaming && hang.kind === "receive" && (hang.on?.test(line) ?? true) && ++received === hang.at) {
          // Stuck on this line: it and the rest of the read are gone (and what was read ahead, below).
          stopped = true;
          return;
        }
      }
      engine.receive(line, now);
    }
    flush();
  };
  const collect = () => {
    const text = fw.takeOutput();
    if (text) tty.push(...text.slice(0, -1).split("\n"));
  };
  const step = (until: number): boolean => {
    const a = stopped ? undefined : engine.nextDeadline();
    const b = fw.nextWakeAt();
    const t = Math.min(a ?? Infinity, b ?? Infinity, until);
    now = Math.max(now, t);
    fw.advance(now);
    collect();
    if (!stopped) {
      engine.tick(now);
      read();
      flush();
    }
    return t < until;
  };
  const settle = () => {
    for (let i = 0; i < 1000 && !stopped; i++) {
      collect();
      if (tty.length === 0) return flush();
      read();
    }
  };

  fw.boot(0);
  engine.open(0);
  settle();
  while (!(engine.identified && engine.outstanding() === 0) && now < 60_000) step(Infinity), settle();
  streaming = true;
  flush();
  while (!stopped && now < 600_000) step(Infinity), settle();
  expect(stopped).toBe(true);

  // The watchdog's wait: the firmware runs on, its answers pile up in the tty.
  const stoppedAt = now;
  while (step(stoppedAt + WATCHDOG_MS));
  collect();
  if (hang.kind === "receive") tty = tty.slice(hang.readAhead);

  const left = readHandoff(record);
  const sent = sentLines(left);
  const before = engine;
  const internals = before as unknown as { resendFrom: number; resendTo: number; rejectedInFlight: number };
  const resendingAtStop = internals.resendFrom < internals.resendTo || internals.rejectedInFlight > 0;
  engine = new ProtocolEngine({ quirks: library.get("generic"), library, window });
  old = false;
  stopped = false;
  dropFirst = hang.kind === "receive"; // where the next read starts is not known: its first line may be a part
  events = [];
  next = left.offset + 1;
  engine.adopt({ profile: before.profile.id, overlays: [...before.profile.overlays], capabilities: before.capabilities, firmwareName: "Marlin", ...sent }, now);
  flush();
  settle();
  const done = () => next >= JOB.length && engine.outstanding() === 0 && !engine.isAdopting;
  while (streaming && !done() && now < stoppedAt + 600_000) step(Infinity), settle();
  return { ran: ran.filter((c) => JOB.includes(c)), sent, events, resendingAtStop, resendsWhileAdopting, lostOks: engine.stats.lostOks, finished: done() };
}

function expectExactlyOnce(o: Outcome, what: string, JOB: readonly string[] = MOVES): void {
  // The text of every line the printer could still ask for was in the record (or the print would have been interrupted).
  expect({ what, missing: o.sent.missing }).toEqual({ what, missing: 0 });
  const failed = o.events.find((e) => e.type === "adoptFailed");
  expect({ what, failed }).toEqual({ what, failed: undefined });
  expect({ what, finished: o.finished }).toEqual({ what, finished: true });
  // Line by line, so a failure says where.
  for (let i = 0; i < Math.max(o.ran.length, JOB.length); i++) {
    if (o.ran[i] !== JOB[i]) expect({ what, i, ran: o.ran[i] }).toEqual({ what, i, ran: JOB[i] });
  }
}

const MODES = [
  ["one line in flight", 1, {}],
  ["windowed (ADVANCED_OK)", 4, { advancedOk: true }],
] as const;
/** The same, and the other families that number lines: Repetier (ok on receipt, with the line's number; `wait` when idle), Smoothieware (`rs N` without an ok). */
const FAMILIES = [...MODES, ["repetier", 1, { personality: "repetier" }], ["smoothie", 1, { personality: "smoothie" }]] as const;

describe("a thread stuck in a receive hook: the print goes on, every line once, in order", () => {
  for (const [name, window, printer] of FAMILIES) {
    test(`${name}: stuck on any reply, with the rest of the read and a read-ahead lost`, () => {
      let owed = 0;
      let resolved = 0;
      for (let at = 20; at < 140; at += 3) {
        for (const readAhead of [0, 2]) {
          const o = print({ kind: "receive", at, readAhead }, window, printer);
          expectExactlyOnce(o, `${name}, stuck at reply ${at}, ${readAhead} read ahead`);
          owed += o.sent.inFlight.length;
          if (o.events.some((e) => e.type === "probe") || o.lostOks > 0) resolved++;
        }
      }
      // Lines were owed answers, and answers that went with the thread were found lost: by a probe
      // (one line in flight: silence), or by a later numbered ok.
      expect(owed).toBeGreaterThan(0);
      expect(resolved).toBeGreaterThan(0);
    });
  }
});

describe("damaged lines: a resend under way, or its request lost, when the thread stops", () => {
  for (const [name, window, printer] of FAMILIES) {
    test(`${name}: stuck in a send hook or a receive hook while the printer asks for lines again`, () => {
      let underWay = 0;
      let servedWhileAdopting = 0;
      let rebuilt = 0;
      for (let seed = 1; seed <= 12; seed++) {
        const faults = { corrupt: { probability: 0.08 } };
        for (let at = 25; at < 130; at += 7) {
          for (const hang of [{ kind: "send", at } as const, { kind: "receive", at, readAhead: seed % 3 } as const]) {
            const o = print(hang, window, { ...printer, seed, faults });
            expectExactlyOnce(o, `${name}, seed ${seed}, stuck in a ${hang.kind} hook at ${at}`);
            if (o.resendingAtStop) underWay++;
            if (o.sent.resend || o.sent.inFlight.some((l) => l.rejected)) rebuilt++;
            if (o.resendsWhileAdopting > 0) servedWhileAdopting++;
          }
        }
      }
      // Each case really happened: a resend under way at the stop (with one line in flight it is
      // only ever seen between a request and the copy sent again — never on Smoothieware, whose
      // `rs N` comes without an ok, so the copy goes out as the request is read; windowed, refused
      // copies and lines still to send are rebuilt from what was written), and requests for the
      // stopped thread's lines, served from what it had written.
      if (name !== "smoothie") expect(underWay).toBeGreaterThan(0);
      if (window > 1) expect(rebuilt).toBeGreaterThan(0);
      expect(servedWhileAdopting).toBeGreaterThan(0);
    });
  }
});

describe("a long command among the lines owed: the new thread waits while the printer says it is busy", () => {
  // Smoothieware sends no busy lines (its own case below).
  for (const [name, window, printer] of FAMILIES.filter(([name]) => name !== "smoothie")) {
    test(`${name}: stuck in a receive hook while the printer homes or heats`, () => {
      let busyOwed = 0;
      for (const [on, at] of [[/busy/, 1], [/busy/, 2], [/busy/, 5], [/busy/, 12], [/busy/, 30], [/^ok/, 41], [/^ok/, 42], [/^ok/, 82], [/^ok/, 83]] as const) {
        const o = print({ kind: "receive", at, readAhead: 0, on }, window, printer, LONG);
        expectExactlyOnce(o, `${name}, stuck at reply ${at}`, LONG);
        if (o.sent.busy && o.sent.inFlight.some((l) => /\b(G28|M109)\b/.test(l.text))) busyOwed++;
      }
      expect(busyOwed).toBeGreaterThan(0);
    });
  }
});

describe("Smoothieware (no busy lines): a long command among the lines owed does not hold the probe back", () => {
  test("stuck on the plain ok of a line around homing or heating: the probe (its answer `ok T:…`) goes out after 3 s, answered once the command is done", () => {
    let probedWhileLong = 0;
    for (const at of [40, 41, 42, 81, 82, 83]) {
      const o = print({ kind: "receive", at, readAhead: 0, on: /^ok$/ }, 1, { personality: "smoothie" }, LONG);
      expectExactlyOnce(o, `smoothie, stuck at plain ok ${at}`, LONG);
      if (o.sent.inFlight.some((l) => /\b(G28|M109)\b/.test(l.text)) && o.events.some((e) => e.type === "probe")) probedWhileLong++;
    }
    expect(probedWhileLong).toBeGreaterThan(0);
  });
});

describe("Klipper (no line numbers, every line answered in order): the probe's answer reads unlike a plain ok", () => {
  const klipper = { personality: "klipper" } as const;
  /** The probes the new engine sent, by command. */
  const probes = (o: Outcome) => o.events.flatMap((e) => (e.type === "sent" && / (M105|M115)\*/.test(e.line) ? [/ (M105|M115)\*/.exec(e.line)![1]!] : []));

  test("stuck in a receive hook on any reply, with the rest of the read and a read-ahead lost: the print goes on, every line once, in order", () => {
    let probed = 0;
    let byM115 = 0;
    for (let at = 20; at < 140; at += 3) {
      for (const readAhead of [0, 2]) {
        const o = print({ kind: "receive", at, readAhead }, 1, klipper);
        expectExactlyOnce(o, `klipper, stuck at reply ${at}, ${readAhead} read ahead`);
        if (o.events.some((e) => e.type === "probe")) probed++;
        // The line owed was an M105 poll: its answer reads as M105's probe would, so M115 asks.
        if (o.sent.inFlight.some((l) => / M105\*/.test(l.text)) && o.events.some((e) => e.type === "probe")) {
          expect(probes(o)[0]).toBe("M115");
          byM115++;
        }
      }
    }
    expect(probed).toBeGreaterThan(0);
    expect(byM115).toBeGreaterThan(0);
  });

  test("stuck in a send hook: the print goes on, every line once, in order", () => {
    for (let at = 20; at < 140; at += 9) expectExactlyOnce(print({ kind: "send", at }, 1, klipper), `klipper, stuck in a send hook at ${at}`);
  });

  test("a line of kilobytes (Klipper reads lines of any length) owed when the thread stops: its text is kept, and the print goes on", () => {
    // Longer than the record's first 8 KiB: the ring grows to what may be owed.
    const long = `M118 ${"x".repeat(12_000)}`;
    const JOB = [...MOVES.slice(0, 30), long, ...MOVES.slice(30, 60)];
    let owed = 0;
    for (let at = 25; at < 45; at++) {
      const o = print({ kind: "receive", at, readAhead: 0 }, 1, klipper, JOB);
      expectExactlyOnce(o, `klipper, a long line, stuck at reply ${at}`, JOB);
      if (o.sent.inFlight.some((l) => l.text.includes(long))) owed++;
    }
    expect(owed).toBeGreaterThan(0);
  });

  test("homing and heating among the lines owed (no busy lines): the probe goes out after 3 s all the same, its answer comes once they are done", () => {
    let probedWhileLong = 0;
    for (const at of [41, 42, 82, 83]) {
      const o = print({ kind: "receive", at, readAhead: 0, on: /^ok$/ }, 1, klipper, LONG);
      expectExactlyOnce(o, `klipper, stuck at plain ok ${at}`, LONG);
      if (o.sent.inFlight.some((l) => /\b(G28|M109)\b/.test(l.text)) && o.events.some((e) => e.type === "probe")) probedWhileLong++;
    }
    expect(probedWhileLong).toBeGreaterThan(0);
  });
});
