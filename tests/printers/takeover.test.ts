/**
 * The pure parts of taking a printer's link (and its print) over from a thread the watchdog
 * stopped: the decision (src/printers/continuation.ts), where the file goes on, the engine's
 * take-over — the answers owed for the stopped thread's lines taken, none of them sent again, a
 * request for one of them ends it (src/protocol/engine.ts `adopt`) — what the stopped thread
 * leaves in shared memory (handoff.ts), an unfinished reply kept there (LineSplitter), and which
 * file line counts as written whole (`wholeTag`).
 */
import { describe, expect, test } from "bun:test";
import { ProtocolEngine, type AdoptedLink } from "../../src/protocol/engine.ts";
import { frame } from "../../src/protocol/framing.ts";
import { LineSplitter } from "../../src/protocol/line-splitter.ts";
import { lineNumberAt, newlines, takeover, unansweredLines, type TakeoverInput } from "../../src/printers/continuation.ts";
import { handoffBuffer, HandoffWriter, PARTIAL_MAX, readHandoff, type Handoff } from "../../src/printers/handoff.ts";
import { builtInLibrary } from "../helpers/quirks.ts";
import { EngineHarness as Harness } from "../protocol/harness.ts";

const library = await builtInLibrary();

const HANDOFF: Handoff = { fd: 7, writtenN: 120, ackedN: 117, continuable: true, resending: false, offset: 5000, partial: new Uint8Array() };
const INPUT: TakeoverInput = {
  transport: "serial",
  linkUp: true,
  job: { id: "j1", state: "printing", source: "host", resumed: false },
  hung: "send hook",
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
    expect(why({ hung: "receive hook" })).toContain("it stopped while taking a reply from the printer");
    expect(why({}, { resending: true })).toContain("asked for again");
    expect(why({}, { offset: -1 })).toBe("no line of the file had been sent yet");
    expect(why({ checkpoint: undefined })).toBe("no checkpoint of the print had been stored yet");
    expect(why({ checkpoint: { ...INPUT.checkpoint!, jobId: "other" } })).toBe("no checkpoint of the print had been stored yet");
    expect(why({ checkpoint: { ...INPUT.checkpoint!, offset: 6000 } })).toBe("its checkpoint is past the last line it had sent");
    expect(why({ checkpoint: { ...INPUT.checkpoint!, layer: null }, job: { ...INPUT.job!, resumed: true } })).toContain("resumed part-way");
    expect(why({ checkpoint: { ...INPUT.checkpoint!, layer: null } })).toBe("host");
    expect(takeover({ ...INPUT, hung: "receive hook" }).keepLink).toBe(true);
  });
});

describe("where the file goes on", () => {
  test("the lines owed an answer: after the last acknowledged, up to the last written", () => {
    expect(unansweredLines(HANDOFF)).toEqual({ from: 118, to: 120 });
    expect(unansweredLines({ ...HANDOFF, ackedN: 120 })).toEqual({ from: 121, to: 120 });
    expect(unansweredLines({ ...HANDOFF, ackedN: -1, writtenN: 2 })).toEqual({ from: 0, to: 2 });
  });

  test("line numbers from a checkpoint's offset and line, forwards and backwards", () => {
    const bytes = new TextEncoder().encode("a\nb\n\nc\n");
    expect(newlines(bytes)).toBe(4);
    // The checkpoint's line 10 ends at byte 100: the line starting there is 11.
    expect(lineNumberAt(100, { offset: 100, line: 10 }, new Uint8Array())).toBe(11);
    expect(lineNumberAt(107, { offset: 100, line: 10 }, bytes)).toBe(15);
    expect(lineNumberAt(93, { offset: 100, line: 10 }, bytes)).toBe(7);
  });
});

/** An engine that took over a Marlin link whose stopped thread owed answers for `unanswered`. */
function adopted(unanswered: { from: number; to: number }, window = 1): Harness {
  const link: AdoptedLink = { profile: "marlin2", overlays: [], capabilities: { AUTOREPORT_TEMP: true, EMERGENCY_PARSER: true }, firmwareName: "Marlin 2.1.2.1", unanswered };
  const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library, window }));
  h.engine.adopt(link, 0);
  h.recv();
  return h;
}

describe("the engine's takeover of a link", () => {
  test("nothing owed: numbered afresh at once, then lines flow; no handshake, no M115", () => {
    const h = adopted({ from: 41, to: 40 });
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 0 }]);
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
    h.send("G1 X1", 500).recv("ok");
    expect(h.take()).toEqual([frame(1, "G1 X1")]);
    h.recv("ok");
    expect(h.acked()).toEqual([500]);
    expect(h.engine.profile.id).toBe("marlin2");
  });

  test("plain oks: one per line owed is taken before anything new goes out", () => {
    const h = adopted({ from: 41, to: 42 });
    h.send("G1 X1", 500);
    expect(h.take()).toEqual([]);
    expect(h.engine.capacity()).toBe(0);
    h.recv("ok");
    expect(h.take()).toEqual([]);
    expect(h.of("adopted")).toEqual([]);
    h.recv("ok");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 2 }]);
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(1, "G1 X1")]);
  });

  test("numbered oks (ADVANCED_OK): the ok of the last line owed says the printer took them all", () => {
    const h = adopted({ from: 41, to: 44 }, 4);
    h.recv("ok N41 P10 B2");
    expect(h.of("adopted")).toEqual([]);
    // The oks of 42 and 43 were lost with the stopped thread: 44's shows all were taken in order.
    h.recv("ok N44 P10 B3");
    expect(h.of("adopted")).toEqual([{ type: "adopted", answered: 4 }]);
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
  });

  test("a request to resend a line the stopped thread sent ends the takeover; the link is numbered afresh", () => {
    const h = adopted({ from: 41, to: 44 }, 4);
    h.recv("Error:checksum mismatch, Last Line: 41", "Resend: 42", "ok");
    expect(h.of("adoptFailed")).toEqual([{ type: "adoptFailed", reason: "the printer asked for line 42 again, which the stopped thread had sent" }]);
    expect(h.of("adopted")).toEqual([]);
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
  });

  test("silence while answers are owed ends the takeover within seconds", () => {
    const h = adopted({ from: 41, to: 41 });
    h.advance(2900);
    expect(h.of("adoptFailed")).toEqual([]);
    h.advance(200);
    expect(h.of("adoptFailed")).toEqual([{ type: "adoptFailed", reason: "no answer came to 1 line(s) the stopped thread had sent (line 41 on)" }]);
  });

  test("a busy printer keeps the takeover waiting (a long command among the lines owed)", () => {
    const h = adopted({ from: 41, to: 41 });
    for (let i = 0; i < 5; i++) h.advance(2000).recv("echo:busy: processing");
    expect(h.of("adoptFailed")).toEqual([]);
    h.recv("ok");
    expect(h.of("adopted")).toHaveLength(1);
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
  test("written, acknowledged, where the file stands, and an unfinished reply", () => {
    const buffer = handoffBuffer();
    expect(readHandoff(buffer)).toEqual({ fd: -1, writtenN: -1, ackedN: -1, continuable: false, resending: false, offset: -1, partial: new Uint8Array() });
    const w = new HandoffWriter(buffer);
    w.tty(12);
    w.written(300, 2 ** 33 + 5, false);
    w.acked(297);
    w.continuable(true);
    const splitter = new LineSplitter({ bytes: w.partialBytes, publish: (n) => w.partial(n) });
    const lines: string[] = [];
    splitter.push(new TextEncoder().encode("ok\nok N29"), (l) => lines.push(l));
    expect(lines).toEqual(["ok"]);
    expect(readHandoff(buffer)).toEqual({ fd: 12, writtenN: 300, ackedN: 297, continuable: true, resending: false, offset: 2 ** 33 + 5, partial: new TextEncoder().encode("ok N29") });
    // A new thread's splitter fed the kept start reads the reply whole.
    const next = new LineSplitter();
    next.push(readHandoff(buffer).partial!, (l) => lines.push(l));
    next.push(new TextEncoder().encode("8 P15 B3\n"), (l) => lines.push(l));
    expect(lines).toEqual(["ok", "ok N298 P15 B3"]);
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
