/**
 * The pure parts of taking a printer's link (and its print) over from a thread the watchdog
 * stopped: the decision (src/printers/continuation.ts), where the file goes on, the link rebuilt
 * from what the stopped thread wrote (`sentLines`), the engine's take-over — the answers owed for
 * the stopped thread's lines taken, a line sent again only when the printer asks for it (from the
 * stopped thread's own text), the numbering going on, answers lost with the thread found out by a
 * numbered probe (src/protocol/engine.ts `adopt`) — what the stopped thread leaves in shared
 * memory (handoff.ts), an unfinished reply kept there (LineSplitter), and which file line counts
 * as written whole (`wholeTag`). tests/printers/takeover-sim.test.ts runs all of it against the
 * virtual firmware.
 */
import { describe, expect, test } from "bun:test";
import { ProtocolEngine, type AdoptedLink } from "../../src/protocol/engine.ts";
import { frame } from "../../src/protocol/framing.ts";
import { LineSplitter } from "../../src/protocol/line-splitter.ts";
import { lineNumberAt, newlines, sentLines, takeover, type TakeoverInput } from "../../src/printers/continuation.ts";
import { handoffBuffer, HandoffWriter, PARTIAL_MAX, readHandoff, SENT_MAX, type Handoff } from "../../src/printers/handoff.ts";
import { builtInLibrary } from "../helpers/quirks.ts";
import { EngineHarness as Harness } from "../protocol/harness.ts";

const library = await builtInLibrary();

const encoder = new TextEncoder();
/** What a thread wrote: `lines` framed with their numbers (`[n, command]`), each written once in that order. */
const written = (lines: [number, string][]) => encoder.encode(lines.map(([n, c]) => `${frame(n, c)}\n`).join(""));
/** The numbering started at 0, then G1 lines up to 120. */
const SENT = written([[0, "M110 N0"], ...Array.from({ length: 120 }, (_, i): [number, string] => [i + 1, `G1 X${i + 1}`])]);

const HANDOFF: Handoff = { fd: 7, writtenN: 120, ackedN: 117, continuable: true, offset: 5000, partial: new Uint8Array(), numbered: 121, answered: 118, busy: false, sent: SENT, sentWhole: true };
const INPUT: TakeoverInput = {
  transport: "serial",
  linkUp: true,
  job: { id: "j1", state: "printing", source: "host", resumed: false },
  handoff: HANDOFF,
  checkpoint: { jobId: "j1", offset: 4000, layer: { offset: 3000 } },
};
const why = (patch: Partial<TakeoverInput>, handoff: Partial<Handoff> = {}) => {
  const t = takeover({ ...INPUT, ...patch, handoff: { ...HANDOFF, ...handoff } });
  return t.job?.go === "end" ? t.job.why : t.job?.go;
};

describe("whether the print goes on", () => {
  test("a host print streaming its file goes on; the link is kept", () => {
    expect(takeover(INPUT)).toEqual({ keepLink: true, job: { go: "host" } });
  });

  test("an SD print is followed on while it prints; no job: only the link is kept", () => {
    expect(takeover({ ...INPUT, job: { ...INPUT.job!, source: "sd" } })).toEqual({ keepLink: true, job: { go: "sd" } });
    expect(why({ job: { ...INPUT.job!, source: "sd", state: "paused" } })).toBe("the SD print was paused");
    expect(takeover({ ...INPUT, job: null })).toEqual({ keepLink: true, job: null });
    expect(takeover({ ...INPUT, job: { ...INPUT.job!, state: "done" } })).toEqual({ keepLink: true, job: null });
  });

  test("the virtual printer, or no serial link up: today's restart, the print interrupted", () => {
    expect(takeover({ ...INPUT, transport: "virtual" })).toEqual({ keepLink: false, job: { go: "end", why: expect.stringContaining("the built-in virtual printer runs on that thread") } });
    expect(takeover({ ...INPUT, linkUp: false })).toEqual({ keepLink: false, job: { go: "end", why: "its serial link was not up" } });
    expect(takeover({ ...INPUT, handoff: { ...HANDOFF, fd: -1 } }).keepLink).toBe(false);
    // A write waiting for room in the kernel: part of a line may be in the tty's buffer, so the port is opened afresh.
    expect(takeover({ ...INPUT, handoff: { ...HANDOFF, writtenN: -2 } })).toEqual({ keepLink: false, job: { go: "end", why: "a line was only partly written to the printer when it stopped" } });
  });

  test("what cannot be gone on with safely ends the print, saying why, on the kept link", () => {
    expect(why({}, { continuable: false })).toBe("the print was not streaming its file then (it was printing)");
    expect(why({}, { offset: -1 })).toBe("no line of the file had been sent yet");
    // Answers owed for more lines than the record still holds: those could not be sent again.
    expect(why({}, { numbered: 230, answered: 100 })).toBe("the text of 9 line(s) it had sent without an answer was no longer kept, so they could not be sent again if the printer asked");
    expect(why({ checkpoint: undefined })).toBe("no checkpoint of the print had been stored yet");
    expect(why({ checkpoint: { ...INPUT.checkpoint!, jobId: "other" } })).toBe("no checkpoint of the print had been stored yet");
    expect(why({ checkpoint: { ...INPUT.checkpoint!, offset: 6000 } })).toBe("its checkpoint is past the last line it had sent");
    expect(why({ checkpoint: { ...INPUT.checkpoint!, layer: null }, job: { ...INPUT.job!, resumed: true } })).toContain("resumed part-way");
    expect(why({ checkpoint: { ...INPUT.checkpoint!, layer: null } })).toBe("host");
  });

  test("a resend under way, or replies lost in a receive hook, no longer end it: the lines are kept", () => {
    const resending = written([[0, "M110 N0"], [1, "G1 X1"], [2, "G1 X2"], [3, "G1 X3"], [2, "G1 X2"]]);
    expect(why({}, { sent: resending, writtenN: 3, numbered: 5, answered: 1 })).toBe("host");
  });
});

describe("the link rebuilt from what the stopped thread wrote", () => {
  const line = (n: number, c: string) => ({ n, text: frame(n, c) });

  test("the last lines written still owe their answers; the text of every line since the numbering started is kept", () => {
    const s = sentLines(HANDOFF);
    expect(s.inFlight).toEqual([118, 119, 120].map((n) => ({ ...line(n, `G1 X${n}`), rejected: false })));
    expect(s.resend).toBeNull();
    expect(s.missing).toBe(0);
    expect(s.history.map((l) => l.n)).toEqual(Array.from({ length: 121 }, (_, i) => i));
    expect(s.history[120]).toEqual(line(120, "G1 X120"));
    expect({ lastWritten: s.lastWritten, lastAcked: s.lastAcked, busy: s.busy }).toEqual({ lastWritten: 120, lastAcked: 117, busy: false });
    // Nothing owed.
    expect(sentLines({ ...HANDOFF, answered: 121 }).inFlight).toEqual([]);
    // The counters wrap at 32 bits: only their difference counts.
    expect(sentLines({ ...HANDOFF, numbered: -2147483647, answered: 2147483646 }).inFlight.map((l) => l.n)).toEqual([118, 119, 120]);
  });

  test("a resend under way: the copies written before it from the line asked for on were refused; the rest is still to send", () => {
    // 41 to 44 sent; the printer asked for 42 again; 42 and 43 sent again, 44 not yet.
    const sent = written([[0, "M110 N0"], [40, "G1 X40"], [41, "G1 X41"], [42, "G1 X42"], [43, "G1 X43"], [44, "G1 X44"], [42, "G1 X42"], [43, "G1 X43"]]);
    const s = sentLines({ ...HANDOFF, sent, writtenN: 44, ackedN: 40, numbered: 8, answered: 2 });
    expect(s.inFlight).toEqual([
      { ...line(41, "G1 X41"), rejected: false },
      { ...line(42, "G1 X42"), rejected: true },
      { ...line(43, "G1 X43"), rejected: true },
      { ...line(44, "G1 X44"), rejected: true },
      { ...line(42, "G1 X42"), rejected: false },
      { ...line(43, "G1 X43"), rejected: false },
    ]);
    expect(s.resend).toEqual({ from: 44, to: 45 });
    expect(s.again).toBe(2);
    // Sent again to the end: nothing left to send; a second request (for 43) refused the copies from 43 on before it.
    const again = written([[0, "M110 N0"], [41, "G1 X41"], [42, "G1 X42"], [43, "G1 X43"], [42, "G1 X42"], [43, "G1 X43"], [43, "G1 X43"]]);
    const t = sentLines({ ...HANDOFF, sent: again, writtenN: 43, ackedN: 41, numbered: 7, answered: 2 });
    expect(t.inFlight.map((l) => [l.n, l.rejected])).toEqual([[42, true], [43, true], [42, false], [43, true], [43, false]]);
    expect(t.resend).toBeNull();
    expect(t.again).toBe(1);
    // Sent again to the end, then new lines: those are not copies.
    const on = written([[0, "M110 N0"], [41, "G1 X41"], [42, "G1 X42"], [41, "G1 X41"], [42, "G1 X42"], [43, "G1 X43"], [44, "G1 X44"]]);
    const u = sentLines({ ...HANDOFF, sent: on, writtenN: 44, ackedN: 40, numbered: 7, answered: 2 });
    expect(u.inFlight.map((l) => [l.n, l.rejected])).toEqual([[42, true], [41, false], [42, false], [43, false], [44, false]]);
    expect({ resend: u.resend, again: u.again }).toEqual({ resend: null, again: 2 });
  });

  test("lines numbered afresh (M110): history starts there, and a resend after it refuses nothing written before it", () => {
    const sent = written([[0, "M110 N0"], [7, "G1 X7"], [8, "G1 X8"], [0, "M110 N0"], [1, "G1 X1"], [2, "G1 X2"], [1, "G1 X1"]]);
    const s = sentLines({ ...HANDOFF, sent, writtenN: 2, ackedN: 6, numbered: 7, answered: 1 });
    expect(s.inFlight.map((l) => [l.n, l.rejected])).toEqual([[7, false], [8, false], [0, false], [1, true], [2, true], [1, false]]);
    expect(s.history.map((l) => l.n)).toEqual([0, 1, 2]);
    expect(s.resend).toEqual({ from: 2, to: 3 });
  });

  test("unnumbered lines are not counted; a line cut by the ring is dropped; lines owed that are no longer kept are missing", () => {
    const sent = encoder.encode(`0 X9*12\nM112\n${frame(5, "G1 X5")}\nM29\n${frame(6, "G1 X6")}\n`);
    const s = sentLines({ ...HANDOFF, sent, sentWhole: false, writtenN: 6, ackedN: 3, numbered: 10, answered: 7 });
    expect(s.inFlight).toEqual([{ n: -1, text: "", rejected: false }, { ...line(5, "G1 X5"), rejected: false }, { ...line(6, "G1 X6"), rejected: false }]);
    expect(s.missing).toBe(1);
    expect(s.history.map((l) => l.n)).toEqual([5, 6]);
  });

  test("what a thread writes is kept in the handoff's ring, the last SENT_MAX bytes of it", () => {
    const buffer = handoffBuffer();
    const w = new HandoffWriter(buffer);
    let n = 0;
    let numbered = 0;
    // Far more than the ring holds, in writes of one to three lines.
    while (n < 2000) {
      const batch: [number, string][] = [];
      for (let i = 0; i <= n % 3; i++, n++) batch.push([n, `G1 X${n} Y${n % 7}`]);
      w.sending(written(batch));
      numbered += batch.length;
      w.written(n - 1, n - 1, numbered);
    }
    w.acked(n - 4, numbered - 3);
    const h = readHandoff(buffer);
    expect(h.sentWhole).toBe(false);
    expect(h.sent.length).toBe(SENT_MAX);
    const s = sentLines(h);
    expect(s.inFlight.map((l) => l.text)).toEqual([n - 3, n - 2, n - 1].map((k) => frame(k, `G1 X${k} Y${k % 7}`)));
    expect(s.history.at(-1)).toEqual(line(n - 1, `G1 X${n - 1} Y${(n - 1) % 7}`));
    expect(s.history.length).toBeGreaterThan(200);
  });
});

describe("where the file goes on", () => {
  test("line numbers from a checkpoint's offset and line, forwards and backwards", () => {
    const bytes = new TextEncoder().encode("a\nb\n\nc\n");
    expect(newlines(bytes)).toBe(4);
    // The checkpoint's line 10 ends at byte 100: the line starting there is 11.
    expect(lineNumberAt(100, { offset: 100, line: 10 }, new Uint8Array())).toBe(11);
    expect(lineNumberAt(107, { offset: 100, line: 10 }, bytes)).toBe(15);
    expect(lineNumberAt(93, { offset: 100, line: 10 }, bytes)).toBe(7);
  });
});

/** How the stopped thread left the link: its lines (`G1 X<n>`) up to `lastWritten`, those in `owed` still owing an answer. */
interface Left {
  owed: number[];
  lastWritten?: number;
  rejected?: number[];
  resend?: { from: number; to: number } | null;
  busy?: boolean;
  profile?: string;
  /** Other texts than `G1 X<n>`, by line number. */
  texts?: Record<number, string>;
}

const command = (left: Left, n: number) => left.texts?.[n] ?? `G1 X${n}`;

/** An engine that took over a link (Marlin unless said) as the stopped thread left it. */
function adopted(left: Left, window = 1): Harness {
  const last = left.lastWritten ?? left.owed.at(-1) ?? 40;
  const link: AdoptedLink = {
    profile: left.profile ?? "marlin2",
    overlays: [],
    capabilities: { AUTOREPORT_TEMP: true, EMERGENCY_PARSER: true },
    firmwareName: "Marlin 2.1.2.1",
    lastWritten: last,
    lastAcked: (left.owed[0] ?? last + 1) - 1,
    inFlight: left.owed.map((n, i) => ({ n, text: frame(n, command(left, n)), rejected: left.rejected?.includes(i) ?? false })),
    resend: left.resend ?? null,
    history: Array.from({ length: 30 }, (_, i) => last - 29 + i).map((n) => ({ n, text: frame(n, command(left, n)) })),
    busy: left.busy ?? false,
  };
  const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library, window }));
  h.engine.adopt(link, 0);
  h.recv();
  return h;
}

/** Line 41 owed on `profile` and a job line waiting: nothing goes out for 2.9 s, then the probe (line 42, M105). */
function probedAfterSilence(profile: string): Harness {
  const h = adopted({ owed: [41], profile });
  h.send("G1 X100", 500);
  h.advance(2900);
  expect(h.take()).toEqual([]);
  h.advance(200);
  expect(h.of("probe")).toEqual([{ type: "probe", n: 42, unanswered: 1 }]);
  expect(h.take()).toEqual([frame(42, "M105")]);
  return h;
}

describe("the engine's takeover of a link", () => {
  test("nothing owed: lines flow at once, numbered on from the stopped thread's last; no handshake, no M115, no renumbering", () => {
    const h = adopted({ owed: [], lastWritten: 40 });
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 0 }]);
    expect(h.take()).toEqual([]);
    h.send("G1 X100", 500);
    expect(h.take()).toEqual([frame(41, "G1 X100")]);
    h.recv("ok");
    expect(h.acked()).toEqual([500]);
    expect(h.engine.profile.id).toBe("marlin2");
  });

  test("plain oks: one per line owed is taken before anything new goes out", () => {
    const h = adopted({ owed: [41, 42] });
    h.send("G1 X100", 500);
    expect(h.take()).toEqual([]);
    expect(h.engine.capacity()).toBe(0);
    h.recv("ok");
    expect(h.take()).toEqual([]);
    expect(h.of("adopted")).toEqual([]);
    h.recv("ok");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 2 }]);
    expect(h.take()).toEqual([frame(43, "G1 X100")]);
  });

  test("numbered oks (ADVANCED_OK): the ok of the last line owed says the printer took them all", () => {
    const h = adopted({ owed: [41, 42, 43, 44] }, 4);
    h.recv("ok N41 P10 B2");
    expect(h.of("adopted")).toEqual([]);
    // The oks of 42 and 43 were lost with the stopped thread: 44's shows all were taken in order.
    h.recv("ok N44 P10 B3");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 4 }]);
    expect(h.engine.stats.lostOks).toBe(2);
    h.send("G1 X100", 500);
    expect(h.take()).toEqual([frame(45, "G1 X100")]);
  });

  test("a request to send one of the stopped thread's lines again: its own text goes out again, then the take-over is done", () => {
    const h = adopted({ owed: [41, 42, 43, 44] }, 4);
    h.send("G1 X100", 500);
    h.recv("ok N41 P10 B2", "Error:checksum mismatch, Last Line: 41", "Resend: 42", "ok");
    // Copies refused after it ask for 42 again, and are answered: not sent twice.
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 41", "Resend: 42", "ok");
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 41", "Resend: 42", "ok");
    expect(h.of("adoptFailed")).toEqual([]);
    expect(h.take()).toEqual([frame(42, "G1 X42")]);
    h.recv("ok N42 P10 B3");
    expect(h.take()).toEqual([frame(43, "G1 X43")]);
    h.recv("ok N43 P10 B3");
    expect(h.take()).toEqual([frame(44, "G1 X44")]);
    expect(h.of("adopted")).toEqual([]);
    h.recv("ok N44 P10 B3");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 4 }]);
    expect(h.take()).toEqual([frame(45, "G1 X100")]);
  });

  test("a resend under way when the thread stopped: the lines left to send go first, answers to refused copies are not taken for new requests", () => {
    // 42 to 44 were refused; 42 and 43 sent again; 44 not yet.
    const h = adopted({ owed: [42, 43, 44, 42, 43], lastWritten: 44, rejected: [0, 1, 2], resend: { from: 44, to: 45 } });
    // One line in flight at most (the window is learnt anew): 44 waits for room.
    expect(h.take()).toEqual([]);
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 41", "Resend: 42", "ok");
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 41", "Resend: 42", "ok");
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 41", "Resend: 42", "ok");
    h.recv("ok", "ok");
    expect(h.take()).toEqual([frame(44, "G1 X44")]);
    expect(h.of("adopted")).toEqual([]);
    h.recv("ok");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 5 }]);
    expect(h.engine.stats.resendRequests).toBe(3);
    expect(h.engine.stats.linesResent).toBe(1);
  });

  test("answers that went with the stopped thread: after 3 s of silence a numbered probe goes out; its ok says every line was taken", () => {
    const h = probedAfterSilence("marlin2");
    h.recv("ok T:210.0 /210.0 B:60.0 /60.0");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
    expect(h.engine.stats.lostOks).toBe(1);
    expect(h.take()).toEqual([frame(43, "G1 X100")]);
    // Windowed, the probe's numbered ok says so the same way.
    const w = adopted({ owed: [41, 42, 43] }, 4);
    w.recv("ok N41 P10 B2").advance(3100);
    expect(w.take()).toEqual([frame(44, "M105")]);
    w.recv("ok N44 P10 B3");
    expect(w.of("adopted")).toEqual([{ type: "adopted", answered: 3 }]);
  });

  test("a resend request that went with the stopped thread: the probe is refused, and the line the printer asks for goes out again", () => {
    const h = adopted({ owed: [41] });
    h.advance(3000);
    expect(h.take()).toEqual([frame(42, "M105")]);
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 40", "Resend: 41", "ok");
    expect(h.take()).toEqual([frame(41, "G1 X41")]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(42, "M105")]);
    expect(h.of("adopted")).toEqual([]);
    h.recv("ok T:210.0 /210.0");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
    expect(h.of("adoptFailed")).toEqual([]);
  });

  test("plain oks: a resend request for the line in flight lost while its ok survives — the next line is refused, and the line goes out again", () => {
    const h = adopted({ owed: [41] });
    h.send("G1 X100", 500);
    // `Error:…` and `Resend: 41` went with the stopped thread; the ok after them came.
    h.recv("ok");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
    expect(h.take()).toEqual([frame(42, "G1 X100")]);
    // The printer still wants 41: it refuses 42 and asks for 41, which goes out from the stopped thread's text.
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 40", "Resend: 41", "ok");
    expect(h.take()).toEqual([frame(41, "G1 X41")]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(42, "G1 X100")]);
    h.recv("ok");
    expect(h.acked()).toEqual([500]);
    expect(h.engine.outstanding()).toBe(0);
  });

  test("a busy printer keeps the takeover waiting, without a probe (a long command among the lines owed)", () => {
    const h = adopted({ owed: [41] });
    for (let i = 0; i < 5; i++) h.advance(2000).recv("echo:busy: processing");
    expect(h.of("probe")).toEqual([]);
    h.recv("ok");
    expect(h.of("adopted")).toHaveLength(1);
  });

  test("a long command owed (M109) may be silent for its own limit before the probe; once the printer sent busy lines, not", () => {
    const heating = { owed: [41], texts: { 41: "M109 S210" } };
    const h = adopted(heating);
    h.advance(60_000);
    expect(h.of("probe")).toEqual([]);
    h.recv("ok");
    expect(h.of("adopted")).toHaveLength(1);
    const busy = adopted({ ...heating, busy: true });
    busy.advance(3000);
    expect(busy.of("probe")).toHaveLength(1);
  });

  for (const [profile, answer] of [["smoothieware", "ok T:210.0 /210.0 @127 B:60.0 /60.0 @0"], ["klipper", "ok B:60.0 /60.0 T0:210.0 /210.0"]]) {
    test(`${profile} (no busy lines): a long command owed does not hold back the probe, whose answer reads unlike a plain ok; a late plain ok is the command's`, () => {
      const h = adopted({ owed: [41, 42], profile, texts: { 42: "M109 S210" } });
      h.send("G1 X100", 500);
      h.advance(3000);
      expect(h.take()).toEqual([frame(43, "M105")]);
      // Heating for minutes: no second probe while the command may run.
      h.advance(600_000);
      expect(h.of("probe")).toHaveLength(1);
      // 41's ok went with the stopped thread; M109's comes once heated, then the probe's.
      h.recv("ok");
      expect(h.of("adopted")).toEqual([]);
      h.recv(answer);
      expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 2 }]);
      expect(h.engine.stats.lostOks).toBe(1);
      expect(h.take()).toEqual([frame(44, "G1 X100")]);
    });
  }

  for (const [profile, answer] of [["smoothieware", "ok T:210.0 /210.0 @127 B:60.0 /60.0 @0"], ["klipper", "ok B:60.0 /60.0 T0:210.0 /210.0"]]) {
    test(`${profile}: a late ok after the probe went out is the last line owed's (the answer lost with the stopped thread is the first's): bookkeeping settled by the probe's answer`, () => {
      // Adopted at 0: 41 (its ok went with the stopped thread) and M109 owed; the probe at 3 s.
      const h = adopted({ owed: [41, 42], profile, texts: { 42: "M109 S210" } });
      h.advance(3000);
      expect(h.take()).toEqual([frame(43, "M105")]);
      // M109's own ok, heated at 60 s: not credited to 41 (which would shift every answer by one line).
      h.advance(57_000).recv("ok");
      expect(h.engine.lastAckedN).toBe(40);
      expect(h.engine.latencyCount).toBe(0);
      // One answer taken: a thread replacing this one now would be owed the other two (handoff.ts).
      expect(h.engine.numberedSent - h.engine.numberedDone).toBe(2);
      // The probe's answer at 61 s: 41's ok was lost, M109's came at 60 s, the probe's now.
      h.advance(1000).recv(answer);
      expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 2 }]);
      expect({ lostOks: h.engine.stats.lostOks, lateOks: h.engine.stats.lateOks, acks: h.engine.stats.acks }).toEqual({ lostOks: 1, lateOks: 0, acks: 3 });
      expect(h.engine.lastAckedN).toBe(43);
      // Latencies: M109's (sent at 0, answered at 60 s) and the probe's (sent at 3 s, answered at 61 s); none for the lost ok.
      expect(Array.from(h.engine.ackLatencies.subarray(0, h.engine.latencyCount))).toEqual([60_000, 58_000]);
      expect(h.engine.numberedSent - h.engine.numberedDone).toBe(0);
    });
  }

  test("Smoothieware: a probe answered by a plain ok with nothing owed before it is answered all the same; with M105 owed, the probe waits as on Marlin", () => {
    // A probe answered otherwise (a plain ok) with nothing owed before it: its answer all the same.
    const plain = adopted({ owed: [41], profile: "smoothieware" });
    plain.advance(3000).recv("ok", "ok");
    expect(plain.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
    // A line owed that is itself M105: no answer is told apart, so the probe waits and any ok answers it, as on Marlin.
    const m105 = adopted({ owed: [41, 42], profile: "smoothieware", texts: { 41: "M109 S210", 42: "M105" } });
    m105.advance(60_000);
    expect(m105.of("probe")).toEqual([]);
  });

  test("the printer says it is idle while answers are owed: the probe goes out at once", () => {
    const h = adopted({ owed: [41, 42] });
    h.recv("ok", "wait");
    expect(h.take()).toEqual([frame(43, "M105")]);
    h.recv("wait", "wait");
    expect(h.take()).toEqual([]);
    h.recv("ok T:20.0 /0.0");
    expect(h.of("adopted")).toHaveLength(1);
  });

  test("Klipper (no line numbers): after 3 s of silence a probe whose answer reads unlike a plain ok (M105: ok B:… T0:…); that answer says every line was taken", () => {
    const h = probedAfterSilence("klipper");
    expect(h.of("adoptFailed")).toEqual([]);
    h.recv("ok B:60.0 /60.0 T0:210.0 /210.0");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
    expect(h.engine.stats.lostOks).toBe(1);
    expect(h.take()).toEqual([frame(43, "G1 X100")]);
    h.recv("ok");
    expect(h.acked()).toEqual([500]);
    // Not ready, Klipper answers M105 with a bare `ok T:0`: an answer to the probe all the same.
    const shut = adopted({ owed: [41], profile: "klipper" });
    shut.advance(3000).recv("ok T:0");
    expect(shut.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
  });

  test("Klipper: plain oks before the probe's answer answer the lines owed, in order; a plain ok with none owed before the probe is not its answer", () => {
    const h = adopted({ owed: [41, 42, 43], profile: "klipper" }, 4);
    h.send("G1 X100", 500);
    h.advance(3000);
    expect(h.take()).toEqual([frame(44, "M105")]);
    // The first answer went with the stopped thread; 42's and 43's come late, after the probe went out.
    h.recv("ok", "ok");
    expect(h.of("adopted")).toEqual([]);
    expect(h.take()).toEqual([]);
    h.recv("ok B:20.0 /0.0 T0:20.0 /0.0");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 3 }]);
    expect(h.engine.stats.lostOks).toBe(1);
    expect(h.take()).toEqual([frame(45, "G1 X100")]);
    // One more plain ok than lines owed: not the probe's answer, which reads otherwise.
    const more = adopted({ owed: [41], profile: "klipper" });
    more.advance(3000).recv("ok", "ok");
    expect(more.engine.stats.lateOks).toBe(1);
    expect(more.of("adopted")).toEqual([]);
    more.recv("ok B:20.0 /0.0 T0:20.0 /0.0");
    expect(more.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
    // A probe not answered: asked again, and its answer settles it as well.
    const again = adopted({ owed: [41], profile: "klipper" });
    again.advance(3000).advance(3000);
    expect(again.take()).toEqual([frame(42, "M105"), frame(43, "M105")]);
    again.recv("ok B:20.0 /0.0 T0:20.0 /0.0");
    expect(again.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
    again.recv("ok B:20.0 /0.0 T0:20.0 /0.0");
    expect(again.engine.outstanding()).toBe(0);
  });

  test("Klipper: a line owed that is itself M105 (its answer reads as the probe's): M115 asks instead; both owed, it cannot be asked, and the takeover ends saying why", () => {
    const h = adopted({ owed: [41], profile: "klipper", texts: { 41: "M105" } });
    h.advance(3000);
    expect(h.take()).toEqual([frame(42, "M115")]);
    h.recv("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 1 }]);
    expect(h.engine.profile.id).toBe("klipper");
    const both = adopted({ owed: [41, 42], profile: "klipper", texts: { 41: "M105", 42: "M115" } });
    both.advance(3000);
    expect(both.of("adoptFailed")).toEqual([
      { type: "adoptFailed", reason: "no answer came to 2 line(s) the stopped thread had sent (line 41 on), and this firmware does not number lines; a line owed is itself M105 or M115, whose answer could not be told from the probe's" },
    ]);
    expect(both.take()).toEqual(["N0 M110 N0*125"]);
  });

  test("RepRapFirmware (no line numbers, drops a damaged line without a word) cannot be asked: silence ends the takeover, saying why, and the link is numbered afresh", () => {
    const h = adopted({ owed: [41], profile: "rrf" });
    h.advance(3000);
    expect(h.of("probe")).toEqual([]);
    expect(h.of("adoptFailed")).toEqual([
      {
        type: "adoptFailed",
        reason: "no answer came to 1 line(s) the stopped thread had sent (line 41 on), and this firmware does not number lines and drops a damaged line without a word (no ok, no resend request), so an answer lost with the stopped thread cannot be told from a line it never took",
      },
    ]);
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
  });

  test("a printer that answers nothing at all: the probes end after the limit", () => {
    const h = adopted({ owed: [41] });
    h.advance(60_000);
    expect(h.of("probe")).toHaveLength(5);
    expect(h.of("adoptFailed")).toEqual([{ type: "adoptFailed", reason: "the printer answered neither the lines the stopped thread had sent nor 5 probe(s) after them" }]);
  });

  test("a request for a line whose text was not kept: ignored once (a damaged reply?), then the takeover ends", () => {
    const h = adopted({ owed: [41] });
    h.recv("Resend: 3");
    expect(h.of("adoptFailed")).toEqual([]);
    h.recv("Resend: 3");
    expect(h.of("adoptFailed")).toEqual([{ type: "adoptFailed", reason: "the printer asked for line 3 again, which the stopped thread had sent before the lines it left" }]);
  });

  test("an ok for a line never sent: the printer's line count is not the host's", () => {
    const h = adopted({ owed: [41] }, 4);
    h.recv("ok N57 P10 B3");
    expect(h.of("adoptFailed")).toEqual([{ type: "adoptFailed", reason: "the printer acknowledged line 57, after the last one sent (41): its line count is not the host's" }]);
  });
});

describe("which file line is written whole", () => {
  test("a file line that became several engine lines counts once all of them went out", () => {
    const engine = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open().recv("ok").recv("FIRMWARE_NAME:Marlin 2.1", "ok").engine;
    while (engine.outstanding() > 0) engine.receive("ok", 0);
    engine.takeOutgoing();
    engine.forgetTags();
    expect(engine.wholeTag(-1)).toBe(-1);
    engine.enqueue("G1 X1", 0, 100);
    expect(engine.wholeTag(-1)).toBe(100);
    engine.receive("ok", 0);
    // Line 200 became two lines; the second waits in the queue (one line in flight).
    engine.enqueue("G1 X2", 0, 200);
    engine.enqueue("G92 E1", 0, 200);
    expect(engine.wholeTag(-1)).toBe(100);
    engine.receive("ok", 0);
    expect(engine.wholeTag(-1)).toBe(200);
    // Held in a plugin's stage: not whole yet.
    expect(engine.wholeTag(200)).toBe(100);
    expect(engine.wholeTag(300)).toBe(200);
  });
});

describe("what the stopped thread leaves in shared memory", () => {
  test("written, acknowledged, where the file stands, what was written, busy lines, and an unfinished reply", () => {
    const buffer = handoffBuffer();
    expect(readHandoff(buffer)).toEqual({ fd: -1, writtenN: -1, ackedN: -1, continuable: false, offset: -1, partial: new Uint8Array(), numbered: 0, answered: 0, busy: false, sent: new Uint8Array(), sentWhole: true });
    const w = new HandoffWriter(buffer);
    w.tty(12);
    w.sending(encoder.encode("N300 G1 X1*99\n"));
    w.written(300, 2 ** 33 + 5, 301);
    w.acked(297, 298);
    w.busy();
    w.continuable(true);
    const splitter = new LineSplitter({ bytes: w.partialBytes, publish: (n) => w.partial(n) });
    const lines: string[] = [];
    splitter.push(new TextEncoder().encode("ok\nok N29"), (l) => lines.push(l));
    expect(lines).toEqual(["ok"]);
    expect(readHandoff(buffer)).toEqual({
      fd: 12,
      writtenN: 300,
      ackedN: 297,
      continuable: true,
      offset: 2 ** 33 + 5,
      partial: new TextEncoder().encode("ok N29"),
      numbered: 301,
      answered: 298,
      busy: true,
      sent: encoder.encode("N300 G1 X1*99\n"),
      sentWhole: true,
    });
    // A new thread's splitter fed the kept start reads the reply whole.
    const next = new LineSplitter();
    next.push(readHandoff(buffer).partial!, (l) => lines.push(l));
    next.push(new TextEncoder().encode("8 P15 B3\n"), (l) => lines.push(l));
    expect(lines).toEqual(["ok", "ok N298 P15 B3"]);
  });

  test("a thread that takes over starts its record from the stopped thread's: stopped itself before the printer answered, it leaves the same link, and what it wrote since", () => {
    // The stopped thread: 41 to 44 sent, the printer asked for 42 again, 42 and 43 sent again, 44 not yet.
    const sent = written([[0, "M110 N0"], [40, "G1 X40"], [41, "G1 X41"], [42, "G1 X42"], [43, "G1 X43"], [44, "G1 X44"], [42, "G1 X42"], [43, "G1 X43"]]);
    const first: Handoff = { ...HANDOFF, sent, writtenN: 44, ackedN: 40, numbered: 8, answered: 2 };
    const left = sentLines(first);
    // The new thread's record, as the session starts it (session.ts `inheritRecord`; its engine counts from 0 what it took over).
    const buffer = handoffBuffer();
    const w = new HandoffWriter(buffer);
    w.inherit(first.sent, first.sentWhole);
    w.acked(left.lastAcked, 0);
    w.written(left.lastWritten, 5000, left.inFlight.length);
    expect(sentLines(readHandoff(buffer))).toEqual(left);
    // It sends the rest of the resend (44) and a probe (45), and takes one answer: stopped then, it leaves that.
    w.sending(written([[44, "G1 X44"], [45, "M105"]]));
    w.written(45, 5000, left.inFlight.length + 2);
    w.acked(41, 1);
    const next = sentLines(readHandoff(buffer));
    expect(next.inFlight.map((l) => [l.n, l.rejected])).toEqual([[42, true], [43, true], [44, true], [42, false], [43, false], [44, false], [45, false]]);
    expect({ resend: next.resend, lastWritten: next.lastWritten, lastAcked: next.lastAcked }).toEqual({ resend: null, lastWritten: 45, lastAcked: 41 });
    expect(readHandoff(buffer).offset).toBe(5000);
    // A ring that had wrapped starts inside a line: the record starts at the first whole one.
    const cut = encoder.encode(`0 X9*12\n${frame(5, "G1 X5")}\n${frame(6, "G1 X6")}\n`);
    w.inherit(cut, false);
    expect(readHandoff(buffer).sent).toEqual(encoder.encode(`${frame(5, "G1 X5")}\n${frame(6, "G1 X6")}\n`));
    w.inherit(encoder.encode("G1 X1"), false);
    expect(readHandoff(buffer).sent).toEqual(new Uint8Array());
  });

  test("the ring is sized from what the printer may still ask for: never more than its first 8 KiB on firmware that limits its lines; a longer line grows it, what it held kept", () => {
    // Every built-in firmware with a line length limit, its longest line in flight: what may be owed fits the first 8 KiB.
    let limited = 0;
    for (const id of library.ids()) {
      const limit = library.get(id).commands.maxLineLength;
      if (limit === 0) continue;
      limited++;
      const h = adopted({ owed: [], profile: id });
      h.send(`M117 ${"x".repeat(limit - 20)}`, 1);
      expect(h.take()[0]!.length).toBeLessThanOrEqual(limit);
      expect({ id, fits: h.engine.owedSpan <= SENT_MAX }).toEqual({ id, fits: true });
    }
    expect(limited).toBeGreaterThan(5);
    // Klipper reads lines of any length: a line of 20 KB grows the ring to hold it twice over.
    const k = adopted({ owed: [], profile: "klipper" });
    k.send(`M118 ${"x".repeat(20_000)}`, 1);
    expect(k.engine.owedSpan).toBeGreaterThan(40_000);

    // Grown before the ring had wrapped: everything written is kept, from a whole line.
    const buffer = handoffBuffer();
    const w = new HandoffWriter(buffer);
    w.sending(written(Array.from({ length: 10 }, (_, i): [number, string] => [i + 1, `G1 X${i + 1}`])));
    const long: [number, string] = [11, `M118 ${"x".repeat(20_000)}`];
    w.keep(k.engine.owedSpan);
    w.sending(written([long]));
    w.written(11, 100, 11);
    w.acked(10, 10);
    let h = readHandoff(buffer);
    expect(buffer.byteLength).toBeGreaterThan(40_000);
    expect(h.sentWhole).toBe(true);
    expect(sentLines(h).inFlight).toEqual([{ n: 11, text: frame(...long), rejected: false }]);
    expect(sentLines(h).history.map((l) => l.n)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    // Grown after it had wrapped: the last bytes it held are kept, in order; the first line may be cut.
    const wrapped = handoffBuffer();
    const v = new HandoffWriter(wrapped);
    const many = Array.from({ length: 600 }, (_, i): [number, string] => [i + 1, `G1 X${i + 1} Y${i % 7}`]);
    v.sending(written(many));
    const before = readHandoff(wrapped).sent;
    v.keep(3 * SENT_MAX);
    v.written(600, 100, 600);
    v.acked(598, 598);
    h = readHandoff(wrapped);
    expect(h.sent).toEqual(before);
    expect(h.sentWhole).toBe(false);
    expect(sentLines(h).inFlight.map((l) => l.n)).toEqual([599, 600]);
    // A new thread's writer on the same (grown) buffer keeps its size.
    const again = new HandoffWriter(wrapped);
    again.clear();
    again.sending(written([long]));
    expect(readHandoff(wrapped).sent).toEqual(written([long]));
  });

  test("a reply longer than is kept: not known (the new thread drops the rest of it); back to shared once it ends", () => {
    const w = new HandoffWriter(handoffBuffer());
    const splitter = new LineSplitter({ bytes: w.partialBytes, publish: (n) => w.partial(n) });
    const lines: string[] = [];
    const long = "x".repeat(PARTIAL_MAX + 10);
    splitter.push(new TextEncoder().encode(long), (l) => lines.push(l));
    expect(readHandoff((w as any).words.buffer).partial).toBeNull();
    splitter.push(new TextEncoder().encode("\nok"), (l) => lines.push(l));
    expect(lines).toEqual([long]);
    expect(readHandoff((w as any).words.buffer).partial).toEqual(new TextEncoder().encode("ok"));
  });
});
