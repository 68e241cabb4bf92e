import { describe, expect, test } from "bun:test";
import { ProtocolEngine, type EngineEvent } from "../../src/protocol/engine.ts";
import { frame } from "../../src/protocol/framing.ts";
import { builtInLibrary, genericWith } from "../helpers/quirks.ts";

const library = await builtInLibrary();

/** Drives an engine like the controller does, with a fake clock; records everything. */
class Harness {
  now = 0;
  sent: string[] = [];
  events: EngineEvent[] = [];
  constructor(readonly engine: ProtocolEngine) {}
  private drain() {
    this.sent.push(...this.engine.takeOutgoing());
    this.events.push(...this.engine.takeEvents());
  }
  open() {
    this.engine.open(this.now);
    this.drain();
    return this;
  }
  recv(...lines: string[]) {
    for (const l of lines) this.engine.receive(l, this.now);
    this.drain();
    return this;
  }
  send(command: string, tag?: number) {
    this.engine.enqueue(command, this.now, tag);
    this.drain();
    return this;
  }
  advance(ms: number) {
    this.now += ms;
    this.engine.tick(this.now);
    this.drain();
    return this;
  }
  /** Lines sent since the last call. */
  take(): string[] {
    const s = this.sent;
    this.sent = [];
    return s;
  }
  acked(): number[] {
    return this.events.flatMap((e) => (e.type === "acked" ? [e.tag] : []));
  }
  of<T extends EngineEvent["type"]>(type: T) {
    return this.events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type);
  }
}

const MARLIN_M115 = [
  "FIRMWARE_NAME:Marlin 2.1.2.1 (Jul  1 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:3D Printer EXTRUDER_COUNT:1 UUID:cede2a2f",
  "Cap:AUTOREPORT_TEMP:1",
  "Cap:EMERGENCY_PARSER:1",
  "Cap:AUTOREPORT_POS:0",
  "ok",
];

/** An engine past the handshake and identification of a Marlin 2.1 with temperature auto-report. */
function connected(window = 1): Harness {
  const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library, window })).open();
  h.recv("ok").recv(...MARLIN_M115).recv("ok"); // the ok of M155 S2
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

  test("without auto-report the engine polls M105", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.take();
    h.recv("ok", "FIRMWARE_NAME:Marlin 1.1.9 (Github) EXTRUDER_COUNT:1", "ok");
    expect(h.take()).toEqual(["N1 M115*39", frame(2, "M105")]);
    h.recv("ok T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0").advance(2000);
    expect(h.take()).toEqual([frame(3, "M105")]);
    expect(h.of("temperature")[0]!.report.tool0!.actual).toBe(20);
  });

  test("the hello is repeated while the board boots, and a start line greets it at once", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.take();
    h.advance(2000);
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
    h.recv("start");
    expect(h.take()).toEqual(["N0 M110 N0*125"]);
    h.recv("ok");
    expect(h.engine.state).toBe("operational");
  });

  test("silence during the handshake ends in a clear error", () => {
    const h = new Harness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    for (let t = 0; t < 16; t++) h.advance(1000);
    const state = h.of("state").at(-1)!;
    expect(state.state).toBe("error");
    expect(state.problem!.code).toBe("no_response");
    expect(state.problem!.hint).toContain("baud");
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

  test("comments, blank lines and non-ASCII never reach the wire as such", () => {
    const h = connected();
    expect(h.engine.enqueue("; just a comment", 0)).toBe(false);
    expect(h.engine.enqueue("   ", 0)).toBe(false);
    h.send("M117 Héllo ; greet");
    expect(h.take()).toEqual([frame(3, "M117 H?llo")]);
  });

  test("M0/M1 are refused with a notice (they block serial until a button press)", () => {
    const h = connected();
    h.send("M0");
    expect(h.take()).toEqual([]);
    expect(h.of("notice").at(-1)!.message).toContain("M0");
  });

  test("an emergency command jumps the queue when the firmware has EMERGENCY_PARSER", () => {
    const h = connected();
    h.send("G28").send("G1 X1").send("M108");
    expect(h.take()).toEqual([frame(3, "G28"), frame(4, "M108")]);
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
  });

  test("windowed: echoes of a resend request from lines already in flight are ignored (§9.2b)", () => {
    const h = connected(3);
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
    h.recv("ok", "ok", "ok"); // hello, M115, first M105 poll
    h.take();
    h.send("G1 X1", 1).send("G1 X2", 2);
    expect(h.take()).toEqual([frame(3, "G1 X1")]);
    h.recv("rs N3");
    expect(h.take()).toEqual([frame(3, "G1 X1")]);
    h.recv("ok");
    expect(h.take()).toEqual([frame(4, "G1 X2")]);
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

  test("a request older than the history cannot be served", () => {
    const h = connected();
    h.recv("Resend: 1");
    expect(h.of("state").at(-1)!.problem).toBeUndefined();
    for (let i = 0; i < 1100; i++) h.send("G1 X1").recv("ok");
    h.recv("Resend: 5");
    expect(h.of("state").at(-1)!.problem?.code).toBe("resend_out_of_history");
  });
});

describe("timeouts, busy, resets and errors", () => {
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
    expect(state.problem!.message).toMatch(/nothing received for \d+ s/);
  });

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

  test("a fatal firmware error stops the link with the printer's own words", () => {
    const h = connected();
    h.send("G1 X1", 1);
    h.recv("Error:Thermal Runaway, system stopped! Heater_ID: 0");
    const state = h.of("state").at(-1)!;
    expect(state.state).toBe("error");
    expect(state.problem!.code).toBe("firmware_fatal");
    expect(state.problem!.message).toContain("Thermal Runaway");
  });

  test("M112 goes out at once, bare and numbered", () => {
    const h = connected();
    h.send("G28").send("G1 X1");
    h.take();
    h.engine.emergencyStop(h.now);
    expect(h.engine.takeOutgoing()).toEqual(["M112", frame(4, "M112")]);
    expect(h.engine.state).toBe("error");
  });
});
