import { describe, expect, test } from "bun:test";
import { ProtocolEngine } from "../../src/protocol/engine.ts";
import { frame, unframe } from "../../src/protocol/framing.ts";
import { builtInLibrary, genericWith } from "../helpers/quirks.ts";
import { EngineHarness as Harness } from "./harness.ts";

const library = await builtInLibrary();

const MARLIN_M115 = [
  "FIRMWARE_NAME:Marlin 2.1.2.1 (Jul  1 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:3D Printer EXTRUDER_COUNT:1 UUID:cede2a2f",
  "Cap:AUTOREPORT_TEMP:1",
  "Cap:EMERGENCY_PARSER:1",
  "Cap:AUTOREPORT_POS:0",
  "Cap:SDCARD:0",
  "ok",
];

/** An engine past the handshake and identification of a Marlin 2.1 with temperature auto-report. */
function connected(window = 1, caps: string[] = []): Harness {
  const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library, window })).open();
  h.recv("ok").recv(...MARLIN_M115.slice(0, -1), ...caps, "ok");
  while (h.engine.outstanding() > 0) h.recv("ok"); // M155 S2 and whatever the capabilities add
  h.take();
  return h;
}

describe("handshake and identification (§3.3, transcript §9.1)", () => {
  test("hello, M115, profile detection, auto-report instead of polling", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
    expect(h.engine.state).toBe("handshake");
    h.recv("ok");
    expect(h.engine.state).toBe("operational");
    expect(h.take()).toEqual(["N1 M115*39"]);
    h.recv(...MARLIN_M115);
    const fw = h.of("firmware")[0]!;
    expect(fw.profile).toBe("marlin2");
    expect(fw.name).toStartWith("Marlin 2.1.2.1");
    expect(fw.capabilities.AUTOREPORT_TEMP).toBe(true);
    expect(h.take()).toEqual(["N2 M155 S2*97"]);
    // No M105 polling with auto-report, even after a long idle (temperature lines keep it alive).
    for (let i = 0; i < 20; i++) h.recv("ok").advance(2000).recv(" T:23.12 /0.00 B:22.87 /0.00 @:0 B@:0");
    expect(h.take().filter((l) => l.includes("M105"))).toEqual([]);
  });

  test("without auto-report the engine polls M105, and lists the SD card when there may be one", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.take();
    h.recv("ok", "FIRMWARE_NAME:Marlin 1.1.9 (Github) EXTRUDER_COUNT:1", "ok");
    expect(h.of("firmware")[0]!.profile).toBe("marlin1");
    expect(h.take()).toEqual(["N1 M115*39", frame(2, "M21")]);
    h.recv("echo:SD card ok", "ok");
    expect(h.take()).toEqual([frame(3, "M20")]);
    h.recv("Begin file list", "CUBE.GCO 1234", "End file list", "ok");
    expect(h.take()).toEqual([frame(4, "M105")]);
    h.recv("ok T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0").advance(2000);
    expect(h.take()).toEqual([frame(5, "M105")]);
    expect(h.of("temperature")[0]!.report.tool0!.actual).toBe(20);
    expect(h.of("sd").map((e) => e.message.type)).toEqual(["cardOk", "list"]);
  });

  test("the hello is repeated while the board boots, and a start line greets it at once", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.take();
    h.advance(2000);
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
    h.recv("start");
    // The third hello is the form without an N parameter (quirk handshake.retryHello).
    expect(h.take()).toEqual(["N0 M110*35"]);
    h.recv("ok");
    expect(h.engine.state).toBe("operational");
  });

  test("Anycubic's stock Marlin (§8.1 row 12b): the banner applies the overlay; a version before 1.1.2 is warned about as unsafe", () => {
    const boot = (version: string) => {
      const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
      h.recv("start", "echo: Last Updated: 2017-10-18 | Author: (Jolly, xxxxxxxx.CO.)", `echo:${version}`, "echo:V55 stored settings retrieved (744 bytes)", "ok");
      h.recv("FIRMWARE_NAME:Marlin 1.1.0-RC8 (Github) SOURCE_CODE_URL:x PROTOCOL_VERSION:1.0 MACHINE_TYPE:i3 Mega EXTRUDER_COUNT:1", "ok").advance(400);
      expect(h.engine.profile.overlays).toEqual(["anycubic-marlin"]);
      return h.of("notice").map((n) => n.message).filter((m) => m.includes("thermal runaway"));
    };
    expect(boot("V1.1.0")).toEqual([expect.stringContaining("Check the version"), expect.stringContaining("This is Anycubic's stock Marlin before 1.1.2")]);
    expect(boot("V1.1.4")).toEqual([expect.stringContaining("Check the version")]);
  });

  test('firmware that stalls on M110 with an N parameter (the "CBD" firmware, §1.3) connects on the third hello', () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    const sent = [...h.take()];
    for (let t = 0; t < 2; t++) {
      h.recv("Error:"); // its non-descriptive error, and no ok
      h.advance(2000);
      sent.push(...h.take());
    }
    expect(sent).toEqual(["N0 M110 N0*125", "N0 M110 N0*125", "N0 M110*35"]);
    h.recv("ok");
    expect(h.engine.state).toBe("operational");
    h.advance(400);
    h.recv("ok CBD make it.Date:Nov 21 2019 Time:16:32:55").advance(1600);
    expect(h.of("firmware")[0]!.profile).toBe("anycubic");
    expect(h.engine.profile.handshake.hello).toBe("M110");
  });

  test("silence during the handshake ends in a clear error", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    for (let t = 0; t < 16; t++) h.advance(1000);
    const state = h.of("state").at(-1)!;
    expect(state.state).toBe("error");
    expect(state.problem!.code).toBe("no_response");
    expect(state.problem!.hint).toContain("baud");
  });

  test("Klipper is recognised from the ok that carries its M115, and from its state lines", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok").recv("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0-123-gabcdef01");
    expect(h.of("firmware")[0]).toMatchObject({ profile: "klipper", name: "Klipper" });
    const h2 = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h2.recv("ok", "// Klipper state: Ready");
    expect(h2.engine.profile.id).toBe("klipper");
  });

  test("Malyan's NAME line and the CBD firmware's odd M115 pick their profiles", () => {
    const m = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    m.recv("ok", "NAME: Malyan VER: 2.9 MODEL: M200 HW: HA02", "ok");
    expect(m.of("firmware")[0]).toMatchObject({ profile: "malyan", name: "Malyan 2.9" });
    expect(m.of("notice").some((n) => n.message.includes("thermal runaway"))).toBe(true);
    const c = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    c.recv("ok", "ok CBD make it.Date:Nov 21 2019 Time:16:32:55").advance(1500); // no FIRMWARE_NAME ever comes
    expect(c.of("firmware")[0]!.profile).toBe("anycubic");
    expect(c.engine.profile.wait.meaning).toBe("busy");
  });

  test("overlays apply as their evidence appears: Creality's doubled temperatures before M115", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "TT::27.7627.76  //0.000.00  BB::39.3539.35  //0.000.00  @@::00  BB@@::00");
    expect(h.of("profile").at(-1)).toEqual({ type: "profile", profile: "generic", overlays: ["creality"] });
    expect(h.of("temperature")[0]!.report).toEqual({ tool0: { actual: 27.76, target: 0 }, bed: { actual: 39.35, target: 0 } });
    h.recv(...MARLIN_M115);
    const fw = h.of("firmware")[0]!;
    expect(fw).toMatchObject({ profile: "marlin2", overlays: ["creality"] });
    expect(h.engine.profile.busy.intervalCommand).toBe("M113 S2"); // the family's own fields survive
  });
});

describe("sending", () => {
  test("ping-pong: one line in flight, acks return the tags in order", () => {
    const h = connected();
    h.send("G1 X1", 101).send("G1 X2", 102).send("G1 X3", 103);
    expect(h.take()).toEqual([frame(3, "G1 X1")]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(4, "G1 X2")]);
    h.recv("ok").recv("ok");
    expect(h.take()).toEqual([frame(5, "G1 X3")]);
    expect(h.acked()).toEqual([101, 102, 103]);
  });

  test("received: NULs are dropped; an empty line is data that shows the printer alive, never an ack (§11.1, §11.3)", () => {
    const h = connected();
    h.send("G1 X1", 1).recv("o\0k\0");
    expect(h.acked()).toEqual([1]);
    h.send("G1 X2", 2);
    for (let t = 0; t < 4; t++) h.advance(5000).recv("");
    expect(h.acked()).toEqual([1]); // 20 s of empty lines: no credit taken from them
    // The ack timeout runs its ladder (a lost ok is assumed, M105 provokes one) and then gives up.
    for (let t = 0; t < 400 && h.engine.state === "operational"; t++) h.advance(5000).recv("");
    const failed = h.of("state").at(-1)!;
    expect(failed.state).toBe("error");
    expect(failed.problem!.code).toBe("no_ack"); // still talking, not acknowledging: not "stopped answering"
  });

  test("comments, blank lines and non-ASCII never reach the wire as such", () => {
    const h = connected();
    expect(h.engine.enqueue("; just a comment", 0)).toBe(false);
    expect(h.engine.enqueue("   ", 0)).toBe(false);
    h.send("M117 Héllo ; greet").recv("ok").send("M117 25°C ✓ Ærø 🙂").recv("ok").send("M117 ｆｕｌｌ");
    // Accents dropped, what has no ASCII form is `?` (one per character, not per UTF-16 unit), width folded.
    expect(h.take()).toEqual([frame(3, "M117 Hello"), frame(4, "M117 25?C ? ?r? ?"), frame(5, "M117 full")]);
  });

  test("control characters become spaces (Smoothie halts on Ctrl-X); Smoothie's realtime characters never go out inside a line", () => {
    const h = connected();
    h.send("G1 X1\x18").recv("ok").send("M117 a\tb").recv("ok").send("M117 Ready? Go!");
    expect(h.take()).toEqual([frame(3, "G1 X1"), frame(4, "M117 a b"), frame(5, "M117 Ready? Go!")]);
    const s = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    s.recv("ok").recv("FIRMWARE_NAME:Smoothieware, FIRMWARE_URL:http%3A//smoothieware.org, FIRMWARE_VERSION:edge", "ok");
    while (s.engine.outstanding() > 0) s.recv("ok");
    s.take();
    // `?` would be taken as a status query and `!` as feed hold, out of the line, failing its checksum.
    s.send("M117 Ready? Go! ~Héllo~");
    expect(s.take()).toEqual([frame(s.engine.nextLineNumber - 1, "M117 Ready  Go   Hello")]);
  });

  test("M0/M1 are refused with a notice, unless the firmware can be answered (prompt + emergency parser)", () => {
    const h = connected();
    h.send("M0");
    expect(h.take()).toEqual([]);
    expect(h.of("notice").at(-1)!.message).toContain("M0");
    const p = connected(1, ["Cap:PROMPT_SUPPORT:1"]);
    p.send("M0 Insert magnets");
    expect(p.take()).toEqual([frame(4, "M0 Insert magnets")]); // N3 was the M876 P1 announcement
  });

  test("an emergency command jumps the queue only when the firmware has EMERGENCY_PARSER", () => {
    const h = connected();
    h.send("G28").send("G1 X1").send("M108");
    expect(h.take()).toEqual([frame(3, "G28"), frame(4, "M108")]);
    const quirks = library.get("marlin2");
    const n = new Harness(new ProtocolEngine({ quirks, library })).open();
    n.recv("ok", "FIRMWARE_NAME:Marlin 2.1", "Cap:EMERGENCY_PARSER:0", "Cap:SDCARD:0", "ok", "ok");
    n.take();
    n.send("G28").send("M108");
    expect(n.take()).toEqual([frame(3, "G28")]); // N2 was the first M105 poll
  });

  test("Prusa's M115 U is never sent (it pauses the printer for 30 s)", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("prusa"), library })).open();
    h.recv("ok").recv("FIRMWARE_NAME:Prusa-Firmware 3.13.3 based on Marlin", "ok");
    h.take();
    expect(h.engine.enqueue("M115 U3.14.0", h.now)).toBe(false);
    expect(h.take()).toEqual([]);
  });

  test("Smoothie console commands go out bare and take no ack slot", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok").recv("FIRMWARE_NAME:Smoothieware, FIRMWARE_URL:http%3A//smoothieware.org, X-SOURCE_CODE_URL:https://x, FIRMWARE_VERSION:edge", "ok");
    h.recv("SD card ok", "ok", "Begin file list", "End file list", "ok", "ok T:21.0 /0.0 @0 B:20.0 /0.0 @0");
    h.take();
    h.send("G1 X1", 1).send("version").send("G1 X2", 2);
    expect(h.take()).toEqual([frame(5, "G1 X1"), "version"]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(6, "G1 X2")]);
  });
});

describe("lines the firmware cannot take: unknown commands left out, over-long lines refused (§1.1)", () => {
  const DEFINE = "EXCLUDE_OBJECT_DEFINE NAME=cube_A CENTER=105.000,105.000 POLYGON=[[99.800,99.800],[110.200,99.800],[110.200,110.200],[99.800,110.200],[99.800,99.800]]";

  test("Marlin: Klipper's EXCLUDE_OBJECT_* are not sent (one notice), and the link stays in step", () => {
    const h = connected();
    h.send(DEFINE, 1).send("EXCLUDE_OBJECT_START NAME=cube_A", 2).send("G1 X1", 3).send("EXCLUDE_OBJECT_END NAME=cube_A", 4).send("EXCLUDE_OBJECT_START NAME=cube_B", 5);
    expect(h.take()).toEqual([frame(3, "G1 X1")]);
    h.recv("ok");
    expect(h.acked()).toEqual([3]);
    const notices = h.of("notice").map((n) => n.message).filter((m) => m.includes("EXCLUDE_OBJECT"));
    expect(notices).toHaveLength(3); // once per command word
    expect(notices[0]).toContain("does not know it");
    expect(h.of("refused")).toEqual([]);
  });

  test("Marlin: a line longer than 95 characters framed is refused with its length and the limit, never sent", () => {
    const h = connected();
    // `N3 ` + command + `*cs` adds 5 to 7 characters: 86 of command always fit, 90 never do.
    const fits = `M117 ${"a".repeat(81)}`;
    const long = `M117 ${"b".repeat(85)}`;
    expect(frame(3, fits).length).toBeLessThanOrEqual(95);
    h.send(fits, 1);
    expect(h.take()).toEqual([frame(3, fits)]);
    h.recv("ok").send(long, 2).send("G1 X1", 3);
    expect(h.take()).toEqual([frame(4, "G1 X1")]);
    const refused = h.of("refused");
    expect(refused).toEqual([{ type: "refused", tag: 2, command: long, length: frame(20, long).length, limit: 95 }]);
    expect(refused[0]!.length).toBeGreaterThan(95);
    expect(h.of("notice").at(-1)!.message).toContain("reads at most 95");
    h.recv("ok");
    expect(h.acked()).toEqual([1, 3]);
    expect(h.engine.state).toBe("operational");
  });

  test("the line number counts: the same command fits at N9 and not at N100000", () => {
    const h = connected();
    const command = `M117 ${"c".repeat(84)}`;
    expect(h.engine.tooLong(command, 9)).toBeUndefined();
    expect(h.engine.tooLong(command, 100_000)).toEqual({ length: frame(100_000, command).length, limit: 95 });
    // Only the start of a line known (the analysis keeps 256 characters): its length decides, checksum counted as 3 digits.
    expect(h.engine.tooLong("M117 x", 9, 400)).toEqual({ length: 400 + 1 + 6, limit: 95 });
  });

  test("Klipper reads lines of any length and knows EXCLUDE_OBJECT_*: both are sent", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("klipper"), library })).open();
    h.recv("ok").recv("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0", "ok", "ok");
    while (h.engine.outstanding() > 0) h.recv("ok");
    h.take();
    h.send(DEFINE, 1);
    expect(h.take()).toEqual([frame(h.engine.nextLineNumber - 1, DEFINE)]);
    expect(h.engine.skips(DEFINE)).toBe(false);
    expect(h.engine.tooLong(`M117 ${"x".repeat(500)}`)).toBeUndefined();
  });
});

describe("windowed sending with ADVANCED_OK (§2.5 strategy 2)", () => {
  test("the window opens to the firmware's command queue and never beyond", () => {
    const h = connected(8);
    for (let i = 0; i < 20; i++) h.send(`G1 X${i}`, i);
    expect(h.take()).toHaveLength(1); // no buffer report yet: one line
    h.recv("ok N3 P15 B3"); // BUFSIZE = 4, but one report could be a damaged digit
    expect(h.take()).toHaveLength(1);
    h.recv("ok N4 P15 B3"); // seen twice: trusted
    expect(h.engine.stats.window).toBe(4);
    expect(h.take()).toHaveLength(4);
    expect(h.engine.capacity()).toBe(0);
    h.recv("ok N5 P14 B0");
    expect(h.take()).toHaveLength(1);
    expect(h.acked()).toEqual([0, 1, 2]);
    h.recv("ok N6 P14 B9"); // a damaged B does not widen the window
    expect(h.engine.stats.window).toBe(4);
  });

  test("unread bytes never exceed the receive buffer", () => {
    const h = connected(8);
    h.recv("ok P15 B7", "ok P15 B7"); // oks with buffer state only (nothing in flight): BUFSIZE 8
    const long = `M117 ${"x".repeat(50)}`;
    for (let i = 0; i < 6; i++) h.send(long, i);
    // 127 bytes: the first line is being processed, two more (61 bytes each) fit behind it.
    expect(h.take()).toHaveLength(3);
  });

  test("without ADVANCED_OK the window stays at one line", () => {
    const h = connected(8);
    for (let i = 0; i < 5; i++) h.send(`G1 X${i}`, i);
    h.recv("ok");
    expect(h.take()).toHaveLength(2);
    expect(h.engine.stats.window).toBe(1);
  });

  test("an ok naming a later line reveals lost oks; a late ok is ignored", () => {
    const h = connected(4);
    h.recv("ok P15 B3", "ok P15 B3");
    for (let i = 0; i < 4; i++) h.send(`G1 X${i}`, i);
    expect(h.take().map((l) => l.split(" ")[0])).toEqual(["N3", "N4", "N5", "N6"]);
    h.recv("ok N4 P15 B3"); // the ok of N3 was lost on the wire
    expect(h.acked()).toEqual([0, 1]);
    expect(h.engine.stats.lostOks).toBe(1);
    h.recv("ok N3 P15 B3"); // …or it was only late
    expect(h.engine.stats.lateOks).toBe(1);
    h.recv("ok N5 P15 B3", "ok N6 P15 B3");
    expect(h.acked()).toEqual([0, 1, 2, 3]);
  });
});

describe("resends (§1.7, transcripts §9.2)", () => {
  test("Marlin ping-pong: the requested line goes out again byte for byte; each tag is acked once", () => {
    const h = connected();
    h.send("G1 X14 Y10 E0.7", 1).send("G1 X16 Y10 E0.8", 2);
    expect(h.take()).toEqual([frame(3, "G1 X14 Y10 E0.7")]);
    h.recv("Error:checksum mismatch, Last Line: 2", "Resend: 3", "ok");
    expect(h.take()).toEqual([frame(3, "G1 X14 Y10 E0.7")]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(4, "G1 X16 Y10 E0.8")]);
    h.recv("ok");
    expect(h.acked()).toEqual([1, 2]);
    expect(h.engine.stats.resendRequests).toBe(1);
    expect(h.engine.stats.linesResent).toBe(1);
  });

  test("windowed: echoes of a resend request from lines already in flight are ignored (§9.2b)", () => {
    const h = connected(3);
    h.recv("ok P15 B3", "ok P15 B3");
    h.send("G1 X50", 40).send("G1 X51", 41).send("G1 X52", 42);
    expect(h.take().map((l) => l.split(" ")[0])).toEqual(["N3", "N4", "N5"]);
    h.recv("ok N3 P14 B3");
    h.recv("Error:checksum mismatch, Last Line: 3", "Resend: 4", "ok");
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 3", "Resend: 4", "ok");
    // 4 and 5 are repeated exactly once each, then new lines continue.
    expect(h.take().map((l) => l.split(" ")[0])).toEqual(["N4", "N5"]);
    h.recv("ok N4 P14 B3", "ok N5 P13 B3");
    expect(h.acked()).toEqual([40, 41, 42]);
    h.send("G1 X53", 43);
    expect(h.take()).toEqual([frame(6, "G1 X53")]);
  });

  test("firmware that sends no ok after its resend request (Smoothieware `rs`)", async () => {
    const quirks = await genericWith({ ack: { okAfterResend: "never" } });
    const h = new Harness(new ProtocolEngine({ quirks })).open();
    h.recv("ok", "ok").advance(1500).recv("ok", "ok", "ok"); // hello, M115 (no report: identified after 1.5 s), M21, M20, first M105 poll
    h.take();
    h.send("G1 X1", 1).send("G1 X2", 2);
    expect(h.take()).toEqual([frame(5, "G1 X1")]);
    h.recv("rs N5");
    expect(h.take()).toEqual([frame(5, "G1 X1")]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(6, "G1 X2")]);
  });

  test("Repetier: blank line + Resend:n, skip for duplicates, ok with line numbers (§9.2c)", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "FIRMWARE_NAME:Repetier_1.0.4 COMPILED:Aug  3 2022 REPETIER_PROTOCOL:3", "Cap:SDCARD:0", "Cap:AUTOREPORT_TEMP:1", "ok 1", "ok 2");
    expect(h.engine.profile.id).toBe("repetier");
    h.take();
    h.send("G1 X14 Y10 E0.7", 12);
    h.recv("", "Resend:3", "ok");
    expect(h.take()).toEqual([frame(3, "G1 X14 Y10 E0.7"), frame(3, "G1 X14 Y10 E0.7")]);
    h.recv("ok 3");
    expect(h.acked()).toEqual([12]);
    h.recv("skip 3", "ok"); // a duplicate we never sent is harmless: a stray ok on an empty FIFO
    expect(h.engine.state).toBe("operational");
  });

  test("a missing ok after a resend is detected by a timer (some Marlin 2.0.x builds)", () => {
    const h = connected();
    h.send("G1 X1", 1);
    h.take();
    h.recv("Error:checksum mismatch, Last Line: 2", "Resend: 3");
    expect(h.take()).toEqual([]);
    h.advance(500);
    expect(h.take()).toEqual([frame(3, "G1 X1")]);
  });

  test("a line requested over and over ends the link with a clear error", () => {
    const h = connected();
    h.send("G1 X1", 1);
    for (let i = 0; i < 11; i++) h.recv("Error:checksum mismatch, Last Line: 2", "Resend: 3", "ok");
    const state = h.of("state").at(-1)!;
    expect(state.problem?.code).toBe("resend_loop");
    expect(state.problem?.message).toContain("line 3");
  });

  test("an M110 from a file or the terminal sets where the host's numbering goes on (§1.3)", () => {
    const h = connected();
    h.send("G1 X1", 1).recv("ok");
    h.send("M110 N999", 2).recv("ok");
    h.send("G1 X2", 3).recv("ok");
    h.send("M110", 4).recv("ok");
    h.send("G1 X3", 5);
    // Framed with the number it sets, the printer's counter and the host's stay together.
    expect(h.take().slice(1)).toEqual([frame(999, "M110 N999"), frame(1000, "G1 X2"), frame(0, "M110"), frame(1, "G1 X3")]);
    h.recv("ok");
    expect(h.acked()).toEqual([1, 2, 3, 4, 5]);
  });

  test("where the firmware stalls on M110's parameter, the M110 goes without it and still sets the number", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("anycubic"), library })).open();
    expect(h.take()).toEqual([frame(0, "M110")]);
    h.recv("ok");
    while (h.engine.outstanding() > 0) h.recv("ok"); // M115 and what follows it
    h.take();
    h.send("M110 N41", 1);
    expect(h.take()).toEqual([frame(41, "M110")]);
  });

  test("a printer asking again and again for a line not sent yet ends the link with a clear error", () => {
    const h = connected();
    for (let i = 0; i < 11; i++) h.send("G1 X1", i).recv("Error:Line Number is not Last Line Number+1, Last Line: 999", "Resend: 1000", "ok");
    const state = h.of("state").at(-1)!;
    expect(state.problem?.code).toBe("resend_loop");
    expect(state.problem?.message).toContain("line 1000, which the host has not sent yet");
  });

  test("a request older than the history cannot be served", () => {
    const h = connected();
    h.recv("Resend: 1");
    expect(h.of("state").at(-1)!.problem).toBeUndefined();
    for (let i = 0; i < 1100; i++) h.send("G1 X1").recv("ok");
    h.send("G1 X2").recv("Resend: 5", "ok"); // once: a damaged reply, ignored
    expect(h.of("state").at(-1)!.problem).toBeUndefined();
    expect(h.of("notice").at(-1)!.message).toContain("Ignored a request to resend line 5");
    h.recv("Resend: 5", "ok"); // again: it means it
    expect(h.of("state").at(-1)!.problem?.code).toBe("resend_out_of_history");
  });
});

describe("position: the auto-report where the firmware has it, else M114 once idle after a move", () => {
  test("without AUTOREPORT_POS: one M114 after a jog or homing, none while a job's lines flow", () => {
    const h = connected();
    h.send("G28").recv("ok");
    h.send("G1 X10 F3000").recv("ok");
    h.take();
    h.advance(1000);
    expect(h.take()).toEqual([frame(5, "M114")]);
    h.recv("X:10.00 Y:0.00 Z:0.00 E:0.00 Count X:800 Y:0 Z:0", "ok");
    expect(h.of("position").at(-1)!.position).toMatchObject({ x: 10, y: 0, z: 0 });
    h.advance(5000);
    expect(h.take()).toEqual([]); // nothing moved since
    for (let i = 1; i <= 20; i++) h.send(`G1 X${i}`, i).recv("ok"); // a print's lines
    h.advance(5000);
    expect(h.take().filter((l) => l.includes("M114"))).toEqual([]);
  });

  test("with AUTOREPORT_POS: M154 switches the report on and no M114 is sent", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok").recv(...MARLIN_M115.slice(0, -1).map((l) => (l === "Cap:AUTOREPORT_POS:0" ? "Cap:AUTOREPORT_POS:1" : l)), "ok");
    const setup: string[] = [];
    while (h.engine.outstanding() > 0) {
      setup.push(...h.take());
      h.recv("ok");
    }
    expect(setup.map((l) => unframe(l).command)).toContain("M154 S2");
    h.send("G28").recv("ok").advance(5000);
    expect(h.take().filter((l) => l.includes("M114"))).toEqual([]);
  });
});

describe("wait (§2.3): per the profile, a lost ok, a busy printer, or nothing", () => {
  test("idle (Repetier, Marlin NO_TIMEOUTS): answers the hello while connecting, and stands for a lost ok", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.take();
    h.recv("start", "wait");
    expect(h.engine.state).toBe("operational");
    h.advance(400); // two hellos went out: their answers settle first
    expect(h.take().at(-1)).toBe(frame(1, "M115"));
    const c = connected();
    c.send("G1 X1", 1).send("G1 X2", 2);
    c.recv("wait"); // the ok of G1 X1 was lost
    expect(c.acked()).toEqual([1]);
    c.recv("wait", "wait"); // and the next: nothing more in flight after that, so nothing more to release
    expect(c.acked()).toEqual([1, 2]);
    expect(c.engine.outstanding()).toBe(0);
  });

  test('busy (the "CBD" firmware): not an ok — the line waits for its own', () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("anycubic"), library })).open();
    h.recv("ok").recv("ok CBD make it.Date:Nov 21 2019 Time:16:32:55");
    while (h.engine.outstanding() > 0) h.recv("ok");
    h.take();
    h.send("G1 X1", 1).recv("wait", "wait");
    expect(h.acked()).toEqual([]);
    expect(h.of("busy").map((b) => b.reason)).toEqual(["wait", "wait"]);
    h.recv("ok");
    expect(h.acked()).toEqual([1]);
  });
});

describe("a timeout while a resend is under way (§1.7 step 7)", () => {
  // Marlin 2.1 (queue.cpp) drops a copy of the line it ran last, or the one before, without an
  // error or an ok: sending the repeat again after a lost ok would meet silence for ever.
  test("the repeat is taken as done and the print moves on; a repeat that was really lost is asked for again", () => {
    const h = connected();
    h.send("G1 X1", 1).send("G1 X2", 2).send("G1 X3", 3);
    h.take();
    h.recv("Error:checksum mismatch, Last Line: 2", "Resend: 3", "ok");
    expect(h.take()).toEqual([frame(3, "G1 X1")]);
    h.advance(30_000); // the repeat's ok was lost
    expect(h.take()).toEqual([frame(4, "G1 X2")]);
    h.recv("ok");
    expect(h.acked()).toEqual([1, 2]);
    // This time the repeat itself is lost: the next line arrives out of sequence and brings it back.
    h.take();
    h.recv("Error:checksum mismatch, Last Line: 4", "Resend: 5", "ok");
    expect(h.take()).toEqual([frame(5, "G1 X3")]);
    h.advance(30_000);
    const after = h.take();
    expect(after).toEqual([frame(6, "M105")]); // nothing new to send: the tickle
    h.recv("Error:Line Number is not Last Line Number+1, Last Line: 4", "Resend: 5", "ok");
    expect(h.take()).toEqual([frame(5, "G1 X3")]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(6, "M105")]);
    h.recv("ok T:20.0 /0.0");
    expect(h.acked()).toEqual([1, 2, 3]);
    expect(h.engine.state).toBe("operational");
  });
});

describe("resend ratio (§1.7.6)", () => {
  test("more than a tenth of the lines sent again: one warning about the cable; fewer: none", () => {
    const run = (every: number) => {
      const h = connected();
      for (let i = 0; i < 300; i++) {
        h.send(`G1 X${i}`);
        const n = h.engine.nextLineNumber - 1;
        if (i % every === 0) h.recv("Error:checksum mismatch, Last Line: " + (n - 1), `Resend: ${n}`, "ok");
        h.recv("ok");
      }
      return h.of("notice").filter((e) => e.message.includes("sent again"));
    };
    const noisy = run(5); // every fifth line damaged: 20 %
    expect(noisy).toHaveLength(1);
    expect(noisy[0]!.message).toMatch(/^1\d % of the lines sent had to be sent again: the serial link is noisy\. Check the USB cable/);
    expect(run(20)).toEqual([]); // 5 %
  });
});

describe("timeouts for long-running commands and real silence (§2.6)", () => {
  test("the timeout is due at the very time nextDeadline() gives, whatever the rounding of the clock's fractions", () => {
    const h = connected();
    // 3628.7 + 30000 - 3628.7 is 29999.999999999996 in floating point.
    h.now = 3628.7;
    h.send("M105").recv("ok T:20.0 /0.0");
    h.send("G1 X1", 1);
    const due = h.engine.nextDeadline()!;
    expect(due).toBe(3628.7 + 30_000);
    h.engine.tick(due);
    expect(h.engine.stats.timeouts).toBe(1);
  });

  test("busy keep-alives hold a long command open without a timeout (§2.4, §9.3)", () => {
    const h = connected();
    h.send("M109 S210", 7);
    h.take();
    for (let t = 0; t < 120; t++) {
      h.advance(1000).recv(" T:150.00 /210.00 B:60.00 /60.00 @:127 B@:0 W:?");
      if (t % 2 === 0) h.recv("echo:busy: processing");
    }
    expect(h.engine.state).toBe("operational");
    expect(h.engine.stats.timeouts).toBe(0);
    h.recv("ok");
    expect(h.acked()).toEqual([7]);
  });

  test("heat-wait reports hold a heating command open once busy lines were seen, as busy lines would (§2.6, prusa-firmware-3180)", () => {
    // Prusa-Firmware sends busy lines while homing but only `T:… E:0` lines while it heats; Marlin
    // built without BUSY_WHILE_HEATING only its `… W:?` lines.
    for (const [name, heatLine] of [
      ["Prusa-Firmware 3.10.1 based on Marlin", (t: number) => `T:${(200 + t * 0.3).toFixed(2)} E:0 B:60.1`],
      ["Marlin 2.1.2.1 (Github)", (t: number) => ` T:${(200 + t * 0.3).toFixed(2)} /240.00 B:60.10 /60.00 @:127 B@:0 W:?`],
    ] as const) {
      const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
      h.recv("ok", `FIRMWARE_NAME:${name} SOURCE_CODE_URL:x PROTOCOL_VERSION:1.0 MACHINE_TYPE:x EXTRUDER_COUNT:1`, "Cap:AUTOREPORT_TEMP:1", "ok");
      while (h.engine.outstanding() > 0) h.recv("ok");
      h.send("G28", 1).recv("echo:busy: processing", "ok"); // the busy protocol is in use from now on
      while (h.engine.outstanding() > 0) h.recv("ok"); // M113 S2, which that asks for
      h.send("M109 S240", 2);
      h.take();
      for (let t = 0; t < 120; t++) h.advance(1000).recv(heatLine(t));
      expect(h.engine.stats.timeouts).toBe(0);
      expect(h.engine.state).toBe("operational");
      h.recv("ok");
      expect(h.acked()).toEqual([1, 2]);
      // Ordinary reports are no keep-alive: a lost ok still times out.
      h.send("G1 X1", 3);
      for (let t = 0; t < 8; t++) h.advance(1000).recv(" T:240.00 /240.00 B:60.00 /60.00 @:64 B@:0");
      expect(h.engine.stats.timeouts).toBe(1);
    }
  });

  test("without keep-alives, G28 may be silent for minutes; G4 for its dwell; M0 for ever", () => {
    const h = connected();
    h.send("G28", 1);
    h.advance(4 * 60_000);
    expect(h.engine.stats.timeouts).toBe(0);
    h.recv("ok").send("G4 S90", 2).advance(100_000);
    expect(h.engine.stats.timeouts).toBe(0);
    h.advance(30_000);
    expect(h.engine.stats.timeouts).toBe(1); // 90 s dwell + 30 s is over
    const p = connected(1, ["Cap:PROMPT_SUPPORT:1"]);
    p.send("M0 Change the magnets", 3).advance(3_600_000);
    expect(p.engine.stats.timeouts).toBe(0);
  });

  test("real silence: lost-ok recovery, then a clear error", () => {
    const h = connected();
    h.send("G1 X1", 1);
    h.take();
    h.advance(30_000);
    expect(h.engine.stats.timeouts).toBe(1);
    expect(h.take()).toEqual([frame(4, "M105")]); // the tickle
    for (let i = 0; i < 6; i++) h.advance(30_000);
    const state = h.of("state").at(-1)!;
    expect(state.state).toBe("error");
    expect(state.problem!.code).toBe("timeout");
    expect(state.problem!.message).toMatch(/nothing received for \d+ s while waiting for "M105"/);
  });

  test("Repetier's M115 report comes after its ok (acked on receipt): identification waits for it", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "ok 1").advance(100).recv("FIRMWARE_NAME:Repetier_1.0.4 COMPILED:Aug  3 2022 REPETIER_PROTOCOL:3", "Cap:AUTOREPORT_TEMP:1", "Cap:EEPROM:0");
    expect(h.of("firmware")).toEqual([]);
    h.advance(300);
    expect(h.of("firmware")[0]).toMatchObject({ profile: "repetier", capabilities: { AUTOREPORT_TEMP: true, EEPROM: false } });
    expect(h.take()).toContain(frame(2, "M155 S2"));
  });

  test("Repetier acks M109 on receipt: the silence while it heats is not a timeout", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("repetier"), library })).open();
    h.recv("ok", "FIRMWARE_NAME:Repetier_1.0.4", "Cap:SDCARD:0", "ok 1");
    h.take();
    h.send("M109 S210", 1).recv("ok 3", "TargetExtr0:210").send("G28", 2).recv("ok 4");
    expect(h.of("target")[0]).toMatchObject({ heater: "tool0", target: 210 });
    h.send("G1 X1", 3).advance(5 * 60_000);
    expect(h.engine.stats.timeouts).toBe(0);
  });

  test("firmware that does not track line numbers: a silent job line is reported as possibly lost", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("klipper"), library })).open();
    h.recv("ok").recv("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0", "ok", "ok", "ok T:0");
    h.take();
    h.send("G1 X1", 42).advance(30_000);
    expect(h.of("lost")).toEqual([{ type: "lost", tag: 42, command: "G1 X1" }]);
  });
});

describe("resets, errors and their policies (§3.1, §6)", () => {
  test("a reset while operational is reported and the link re-synchronises (§3.1)", () => {
    const h = connected();
    h.send("G1 X1", 1).send("G1 X2", 2);
    h.take();
    h.recv("start");
    expect(h.of("reset")).toHaveLength(1);
    expect(h.engine.state).toBe("handshake");
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
    h.recv("ok");
    expect(h.take()).toEqual(["N1 M115*39"]); // the queued job line was dropped
  });

  test("a reply cut short by a reboot (`ok T:start`, Marlin 1.1) is a reset too", () => {
    const h = connected();
    h.send("M105").recv("ok T:start");
    expect(h.of("reset")).toHaveLength(1);
  });

  test("a fatal firmware error stops the link with the printer's own words", () => {
    const h = connected();
    h.send("G1 X1", 1);
    h.recv("Error:Thermal Runaway, system stopped! Heater_ID: 0");
    const state = h.of("state").at(-1)!;
    expect(state.state).toBe("error");
    expect(state.problem!.code).toBe("firmware_fatal");
    expect(state.problem!.message).toContain("Thermal Runaway");
  });

  test("Marlin 1.0's split error is joined before it is classified", () => {
    const h = connected();
    h.recv("Error:0", ": Extruder switched off. MAXTEMP triggered !");
    expect(h.of("firmwareError").at(-1)).toMatchObject({ errorClass: "fatal", text: "Error:0 : Extruder switched off. MAXTEMP triggered !" });
    expect(h.engine.state).toBe("error");
  });

  test("an unknown error followed by a resend request is about the damaged line; alone, it stops the job", () => {
    const h = connected();
    h.send("G1 X1", 1);
    h.recv("Error:Chksum mizmatch", "Resend: 3", "ok");
    expect(h.of("firmwareError")).toEqual([]);
    h.recv("ok", "Error:Probing Failed").advance(300);
    expect(h.of("firmwareError")).toEqual([{ type: "firmwareError", errorClass: "error", text: "Error:Probing Failed", policy: "cancelJob" }]);
    expect(h.engine.state).toBe("operational");
  });

  test("Klipper's !! errors cancel the job but keep the link (its errors are acked)", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("klipper"), library })).open();
    h.recv("ok").recv("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0", "ok", "ok");
    h.send("G1 X1", 1).recv("// Printer is not ready", "!! Printer is not ready", "ok").advance(300);
    expect(h.of("firmwareError")).toEqual([{ type: "firmwareError", errorClass: "error", text: "!! Printer is not ready", policy: "cancelJob" }]);
    h.recv("// Klipper state: Shutdown");
    expect(h.of("firmwareError").at(-1)).toMatchObject({ errorClass: "fatal", policy: "cancelJob" });
    expect(h.engine.state).toBe("operational");
  });

  test("M112 goes out at once, bare and numbered, then every heater off (as in transcript klipper-859)", () => {
    const h = connected();
    h.send("G28").send("G1 X1");
    h.take();
    h.engine.emergencyStop(h.now);
    expect(h.engine.takeOutgoing()).toEqual(["M112", frame(4, "M112"), frame(5, "M104 T0 S0"), frame(6, "M140 S0")]);
    expect(h.engine.state).toBe("error");
  });

  test("Repetier's fatal state (§6.2): the job stops, the link stays, M999 brings it back", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "ok 1").advance(100).recv("FIRMWARE_NAME:Repetier_1.0.4 COMPILED:Aug  3 2022 REPETIER_PROTOCOL:3", "Cap:EEPROM:0");
    h.advance(400);
    for (let i = 0; i < 10 && h.engine.outstanding() > 0; i++) h.recv("ok");
    expect(h.engine.profile.id).toBe("repetier");
    h.take();
    h.send("G1 X1", 1).recv("ok");
    const fatal = "fatal:Heater decoupled during rising - Printer stopped and heaters disabled due to this error. Fix error and restart with M999.";
    h.recv(fatal);
    expect(h.of("firmwareError").at(-1)).toMatchObject({ errorClass: "fatal", policy: "cancelJob" });
    expect(h.of("halted")).toEqual([{ type: "halted", reason: fatal, emergency: false }]);
    expect(h.engine.state).toBe("operational");
    // Each later command is acked but not run, and the fatal line printed again.
    h.send("G1 X2", 2).recv("ok", fatal);
    expect(h.of("halted")).toHaveLength(1);
    h.send("M999").recv("ok", "info:Continue from fatal state");
    expect(h.of("recovered")).toEqual([{ type: "recovered", text: "info:Continue from fatal state" }]);
    expect(h.engine.isHalted).toBe(false);
  });

  test("Klipper after M112 (§9.5c): the link stays, the printer is shut down until FIRMWARE_RESTART", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("klipper"), library })).open();
    h.recv("ok").recv("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0", "ok", "ok");
    while (h.engine.outstanding() > 0) h.recv("ok");
    h.send("G28", 1).send("G1 X10", 2);
    const n = h.engine.nextLineNumber - 1; // G28's
    h.take();
    h.engine.emergencyStop(h.now);
    h.recv(); // collect
    // The bare M112 acts as Klipper reads it; the heaters go off for what still listens. No numbered copy.
    expect(h.take()).toEqual(["M112", frame(n + 1, "M104 T0 S0"), frame(n + 2, "M140 S0")]);
    expect(h.engine.state).toBe("operational");
    expect(h.of("halted")).toEqual([{ type: "halted", reason: "Emergency stop: M112 was sent.", emergency: true }]);
    // Klipper answers everything in order: G28 (cut short), the bare M112, the two heater lines.
    h.recv("// Klipper state: Shutdown", "ok", "ok");
    h.recv("// Shutdown due to M112 command", "!! Shutdown due to M112 command", "ok", "// Shutdown due to M112 command", "!! Shutdown due to M112 command", "ok");
    h.advance(1000);
    expect(h.engine.outstanding()).toBe(0);
    expect(h.acked()).toEqual([1]); // G1 X10 was dropped with the queue
    expect(h.of("halted")).toHaveLength(1); // the first reason stands
    expect(h.engine.isHalted).toBe(true);
    // Typed commands still go out; the restart brings it back.
    h.send("FIRMWARE_RESTART");
    expect(h.take()).toEqual([frame(n + 3, "FIRMWARE_RESTART")]);
    h.recv("ok");
    expect(h.of("recovered")).toEqual([]); // Klipper says when it is ready
    h.recv("// Klipper state: Ready");
    expect(h.of("recovered")).toEqual([{ type: "recovered", text: "// Klipper state: Ready" }]);
    expect(h.engine.isHalted).toBe(false);
    expect(h.engine.stats.timeouts).toBe(0);
    expect(h.engine.state).toBe("operational");
  });

  test("a shutdown Klipper reports by itself: the state line, then the reason from its next answer", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("klipper"), library })).open();
    h.recv("ok").recv("ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0", "ok", "ok");
    while (h.engine.outstanding() > 0) h.recv("ok");
    h.recv("// Klipper state: Shutdown");
    expect(h.of("halted")).toEqual([{ type: "halted", reason: "// Klipper state: Shutdown", emergency: false }]);
    h.send("G28").recv("// MCU 'mcu' shutdown: ADC out of range", "!! MCU 'mcu' shutdown: ADC out of range", "ok");
    h.send("G28").recv("// MCU 'mcu' shutdown: ADC out of range", "!! Lost communication with MCU 'mcu'", "ok");
    expect(h.of("halted").map((e) => e.reason)).toEqual(["// Klipper state: Shutdown", "!! MCU 'mcu' shutdown: ADC out of range"]);
  });

  test("Marlin's M999 state: halted with the link up; the ok of M999 ends it", () => {
    const h = connected();
    h.recv("Error:Printer stopped due to errors. Fix the error and use M999 to restart. (Temperature is reset. Set it after restarting)");
    expect(h.of("halted")).toEqual([{ type: "halted", reason: expect.stringContaining("Printer stopped due to errors"), emergency: false }]);
    expect(h.engine.state).toBe("operational");
    h.send("M999").recv("ok");
    expect(h.of("recovered")).toEqual([{ type: "recovered", text: "M999" }]);
  });

  test("with EMERGENCY_PARSER, M108 goes ahead of the queue — but not while writing to the SD card, where it would be stored", () => {
    const h = connected(); // MARLIN_M115 reports EMERGENCY_PARSER
    h.send("M109 S200", 1).send("G1 X1", 2).send("M108");
    expect(h.take()).toEqual([frame(3, "M109 S200"), frame(4, "M108")]);
    h.recv("ok", "ok"); // M108 ended the wait; then its own ok
    expect(h.take()).toEqual([frame(5, "G1 X1")]);
    h.recv("ok");
    const sd = connected(1, ["Cap:EMERGENCY_PARSER:1", "Cap:SDCARD:1"]);
    sd.send("M28 cube.gco").recv("Writing to file: cube.gco", "ok");
    sd.take();
    const commands = () => sd.take().map((l) => unframe(l).command);
    sd.send("G1 X1", 1).send("G1 X2", 2).send("M108");
    expect(commands()).toEqual(["G1 X1"]); // in order, behind the file's lines
    sd.recv("ok");
    expect(commands()).toEqual(["G1 X2"]);
    sd.recv("ok");
    expect(commands()).toEqual(["M108"]);
  });

  test("Marlin 1.1 answers 'No Line Number with checksum' with no ok: the error stands for it (§1.5, §6.2)", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "FIRMWARE_NAME:Marlin 1.1.9 (Github) EXTRUDER_COUNT:1", "Cap:AUTOREPORT_TEMP:1", "Cap:SDCARD:0", "ok");
    while (h.engine.outstanding() > 0) h.recv("ok");
    expect(h.engine.profile.id).toBe("marlin1");
    h.take();
    h.send("G1 X1", 1).send("G1 X2", 2);
    h.recv("Error:No Line Number with checksum, Last Line: 2");
    expect(h.acked()).toEqual([1]);
    expect(h.of("firmwareError").at(-1)).toMatchObject({ errorClass: "fakeOk" });
    expect(h.take().at(-1)).toMatch(/ G1 X2\*/);
    expect(h.engine.state).toBe("operational");
  });

  test("M112 while writing to the SD card: M29 first (or the firmware stores the M112 in the file), then the stop", () => {
    const h = connected(1, ["Cap:SDCARD:1", "Cap:SD_WRITE:1"]);
    h.send("M28 cube.gcode").recv("Writing to file: cube.gcode", "ok");
    h.send("G28", 1).recv("ok").send("G1 X1", 2);
    h.take();
    h.engine.emergencyStop(h.now);
    const out = h.engine.takeOutgoing();
    expect(out.slice(0, 3)).toEqual(["M29", "M112", expect.stringMatching(/^N\d+ M112\*\d+$/)]);
    expect(h.engine.state).toBe("error");
  });
});

describe("SD card, actions and prompts", () => {
  test("old Marlin's `File deleted:NAMEok` is the deletion and the ok (§4.3): the link stays in step", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "FIRMWARE_NAME:Marlin 1.1.9 (Github) EXTRUDER_COUNT:1", "Cap:AUTOREPORT_TEMP:1", "Cap:SDCARD:1", "ok");
    h.recv("ok", "echo:SD card ok", "ok", "Begin file list", "CUBE.GCO 1234", "NOTEBOOK 99", "End file list", "ok");
    h.take();
    h.send("M30 CUBE.GCO", 7).send("M20", 8);
    expect(h.take()).toEqual([frame(5, "M30 CUBE.GCO")]);
    h.recv("File deleted:CUBE.GCOok");
    expect(h.of("sd").at(-1)!.message).toEqual({ type: "deleted", name: "CUBE.GCO" });
    expect(h.acked()).toEqual([7]);
    expect(h.take()).toEqual([frame(6, "M20")]); // sent at once, not after a timeout
    expect(h.of("received").at(-1)!.line).toBe("File deleted:CUBE.GCOok"); // recorded as it came
    h.recv("Begin file list", "NOTEBOOK 99", "End file list", "ok");
    expect(h.acked()).toEqual([7, 8]);
    // A name that ends in "ok" is not an ok: it must match what was deleted.
    h.send("M30 NOTEBOOK", 9).send("M105", 10);
    expect(h.take()).toEqual([frame(7, "M30 NOTEBOOK")]);
    h.recv("File deleted:NOTEBOOK");
    expect(h.of("sd").at(-1)!.message).toEqual({ type: "deleted", name: "NOTEBOOK" });
    expect(h.acked()).toEqual([7, 8]);
    h.recv("ok");
    expect(h.acked()).toEqual([7, 8, 9]);
    expect(h.take()).toEqual([frame(8, "M105")]);
    expect(h.engine.stats.timeouts).toBe(0);
  });

  test("long-name listings (Marlin M20 L, Prusa M20 L T with folders) are assembled into one list", () => {
    const h = connected(1, ["Cap:SDCARD:1", "Cap:EXTENDED_M20:1"]);
    h.recv("Begin file list", "CALIB~1.GCO 1048576 calibration cube.gcode", " T:21.00 /0.00 B:20.00 /0.00 @:0 B@:0", "FOLDER~1/PART~1.GCO 20480 Long Folder/part.gcode", "NOTES.TXT 12", "End file list");
    const list = h.of("sd").find((e) => e.message.type === "list")!.message as { files: unknown[] };
    expect(list.files).toEqual([
      { name: "CALIB~1.GCO", size: 1048576, longName: "calibration cube.gcode" },
      { name: "FOLDER~1/PART~1.GCO", size: 20480, longName: "Long Folder/part.gcode" },
      { name: "NOTES.TXT", size: 12 },
    ]);
    expect(h.of("temperature")).toHaveLength(1); // the auto-report inside the list is still a report

    const p = new Harness(new ProtocolEngine({ quirks: library.get("prusa"), library })).open();
    p.recv("Begin file list", 'CALIB~1.GCO 1048576 0x5a3b2c10 "calibration cube.gcode"', 'DIR_ENTER: /SUBDIR/ "Long Folder"', "PART~1.GCO 20480", "DIR_EXIT", "End file list");
    // Still in the handshake, so nothing is acked, but the listing is parsed the Prusa way.
    const files = (p.of("sd").find((e) => e.message.type === "list")!.message as { files: { name: string; longName?: string }[] }).files;
    expect(files.map((f) => f.name)).toEqual(["calib~1.gco", "/subdir/part~1.gco"]);
    expect(files[0]!.longName).toBe("calibration cube.gcode");
  });

  test("the connect sequence of §9.1: auto-reports, prompt support, SD init and listing", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "FIRMWARE_NAME:Marlin 2.1.2.1", "Cap:AUTOREPORT_TEMP:1", "Cap:AUTOREPORT_POS:0", "Cap:EMERGENCY_PARSER:1", "Cap:PROMPT_SUPPORT:1", "Cap:SDCARD:1", "Cap:AUTOREPORT_SD_STATUS:1", "Cap:EXTENDED_M20:1", "ok");
    for (let i = 0; i < 5; i++) h.recv("ok");
    expect(h.take()).toEqual(["N0 M110 N0*125", "N1 M115*39", "N2 M155 S2*97", "N3 M27 S1*87", "N4 M876 P1*111", "N5 M21*21", "N6 M20 L T*15"]);
  });

  test("SD status is polled with M27 during an SD print when not auto-reported", () => {
    const h = connected();
    h.engine.setSdPolling(true, h.now);
    h.advance(1);
    expect(h.take()).toEqual([frame(3, "M27")]);
    h.recv("SD printing byte 100/1000", "ok").advance(1000);
    expect(h.take()).toEqual([frame(4, "M27")]);
    expect(h.of("sd").at(-1)!.message).toEqual({ type: "progress", pos: 100, size: 1000 });
  });

  test("while writing to SD nothing else is injected, and a missing ok after M29 is simulated", () => {
    const quirks = library.get("generic");
    const h = new Harness(new ProtocolEngine({ quirks, library })).open();
    h.recv("ok", "FIRMWARE_NAME:Marlin 1.1.9", "Cap:SDCARD:0", "ok", "ok"); // polls M105
    h.take();
    h.send("M28 NEW.GCO").recv("echo:Now fresh file: NEW.GCO", "Writing to file: NEW.GCO", "ok");
    h.send("G1 X1").advance(5000);
    expect(h.take()).toEqual([frame(3, "M28 NEW.GCO"), frame(4, "G1 X1")]);
    h.recv("ok").send("M29").recv("Done saving file.");
    expect(h.take()).toEqual([frame(5, "M29")]);
    h.advance(500);
    expect(h.engine.outstanding()).toBe(1); // the poll that was held back
    expect(h.of("sd").map((e) => e.message.type)).toEqual(["writing", "saved"]);
  });

  test("the firmware's echo of our own M25 is marked as an echo, a real pause request is not", () => {
    const h = connected();
    h.send("M25").recv("//action:pause", "ok").recv("//action:pause");
    expect(h.of("action").map((a) => a.echo)).toEqual([true, false]);
  });

  test("link statistics: ack latency samples", () => {
    const h = connected();
    h.send("G1 X1").advance(7).recv("ok");
    expect(h.engine.ackLatencies[h.engine.latencyCount - 1]).toBe(7);
  });

  test("link statistics: a line whose ok was lost (found through a later numbered ok) records no latency", () => {
    const h = connected(4);
    h.recv("ok P15 B3", "ok P15 B3");
    const before = h.engine.latencyCount;
    h.send("G1 X1", 0).send("G1 X2", 1);
    h.take();
    h.advance(9).recv("ok N4 P15 B3"); // the ok of N3 was lost on the wire
    expect(h.engine.stats.lostOks).toBe(1);
    expect(h.engine.stats.acks).toBeGreaterThanOrEqual(2);
    // Only N4's own ok is a measured latency; N3's is unknown.
    expect(h.engine.latencyCount - before).toBe(1);
    expect(h.engine.ackLatencies[(h.engine.latencyCount - 1) % h.engine.ackLatencies.length]).toBe(9);
  });
});

describe("the active tool: reports are filed under a tool the firmware has", () => {
  /** Connected to a Marlin whose M115 line is `firmwareLine`. */
  function connectedAs(firmwareLine: string): Harness {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok").recv(firmwareLine, ...MARLIN_M115.slice(1, -1), "ok");
    while (h.engine.outstanding() > 0) h.recv("ok");
    h.take();
    return h;
  }
  const lastReport = (h: Harness) => Object.keys(h.of("temperature").at(-1)!.report).sort();

  test("T1 on a firmware that reported EXTRUDER_COUNT:1: its T: stays tool0", () => {
    const h = connected();
    h.send("T1").recv("echo:T1 Invalid extruder", "ok", "T:200.00 /200.00 B:60.00 /60.00 @:0 B@:0");
    expect(h.engine.currentTool).toBe(0);
    expect(lastReport(h)).toEqual(["bed", "tool0"]);
  });

  test("without an extruder count, the firmware's `T1 Invalid extruder` keeps the tool it had", () => {
    const h = connectedAs(MARLIN_M115[0]!.replace(" EXTRUDER_COUNT:1", ""));
    h.send("T1").recv("echo:T1 Invalid extruder", "ok", "T:200.00 /200.00 B:60.00 /60.00 @:0 B@:0");
    expect(h.engine.currentTool).toBe(0);
    expect(lastReport(h)).toEqual(["bed", "tool0"]);
  });

  test("two hotends: T1 selects tool1; an M104 refused for another tool changes nothing; `Active Extruder` is believed", () => {
    const h = connectedAs(MARLIN_M115[0]!.replace("EXTRUDER_COUNT:1", "EXTRUDER_COUNT:2"));
    h.send("T1").recv("echo:Active Extruder: 1", "ok");
    expect(h.engine.currentTool).toBe(1);
    h.send("M104 T5 S200").recv("echo:M104 Invalid extruder 5", "ok");
    expect(h.engine.currentTool).toBe(1);
    h.recv("echo:Active Extruder: 0");
    expect(h.engine.currentTool).toBe(0);
  });
});
