/**
 * protocol.md §9 replayed with the engine as the host: the firmware's lines (`<<<`) are fed to
 * it, and every line the transcript shows the host sending (`>>>`) must be exactly what the engine
 * writes — hellos, M115, auto-report and SD setup, numbering, checksums, resends byte for byte,
 * echoes ignored. Commands a user would type (a `>>>` line the engine does not produce on its own
 * within a moment) are enqueued as user commands first.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ProtocolEngine } from "../../src/protocol/engine.ts";
import { frame, unframe } from "../../src/protocol/framing.ts";
import { builtInLibrary } from "../helpers/quirks.ts";
import { EngineHarness } from "./harness.ts";
import { parseTranscript } from "./transcripts.ts";

const library = await builtInLibrary();
const DIR = join(import.meta.dir, "../fixtures/protocol-md");

interface Setup {
  /** The family the printer is (its M115 reply is simulated in the prelude). */
  firmwareName: string;
  caps?: string[];
  window?: number;
  /** ADVANCED_OK oks in the prelude, so the window is open. */
  advancedOk?: boolean;
  /** `>>>` lines (0-based among the host's lines) the engine is not expected to write. */
  skipSends?: number[];
  /** The firmware's busy keep-alives were seen before (so the engine has set their interval). */
  busySeen?: boolean;
}

/** Brings an engine to operational with the given firmware and the next line number `firstN`. */
function prelude(setup: Setup, firstN: number): EngineHarness {
  const h = new EngineHarness(new ProtocolEngine({ quirks: library.get("generic"), library, window: setup.window ?? 1 })).open();
  const ok = setup.advancedOk ? () => "ok P15 B3" : () => "ok";
  h.recv("ok", `FIRMWARE_NAME:${setup.firmwareName}`, ...(setup.caps ?? ["Cap:AUTOREPORT_TEMP:1", "Cap:SDCARD:0"]), "ok");
  if (setup.busySeen) h.recv("echo:busy: processing");
  while (h.engine.outstanding() > 0) h.recv(ok());
  let last = Math.max(...h.take().map((l) => unframe(l).lineNumber ?? 0));
  // The transcripts are prints: their lines go as a job's (tagged), which draw no position poll.
  while (last + 1 < firstN) {
    h.send("G92 E0", last).recv(ok());
    last = unframe(h.take().at(-1)!).lineNumber!;
  }
  if (setup.advancedOk) h.recv(ok(), ok());
  return h;
}

/** Plays the transcript; `after` is what the engine writes beyond its end. Returns the harness. */
function play(file: string, setup: Setup, after: string[] = []): EngineHarness {
  const lines = parseTranscript(readFileSync(join(DIR, file), "utf8"));
  const firstN = lines.map((l) => (l.dir === "send" ? unframe(l.line).lineNumber : undefined)).find((n) => n !== undefined) ?? 1;
  const h = prelude(setup, firstN);
  let pending: string[] = [];
  let sendIndex = -1;
  let highest = 0;
  for (const l of lines) {
    if (l.dir === "recv") {
      h.recv(l.line);
      pending.push(...h.take());
      continue;
    }
    sendIndex++;
    if (setup.skipSends?.includes(sendIndex)) continue;
    if (pending.length === 0) {
      // Give the engine a moment to write it by itself (settle after hellos, timers).
      h.advance(400);
      pending.push(...h.take());
    }
    if (pending.length === 0) {
      const parts = unframe(l.line);
      if (parts.lineNumber !== undefined && parts.lineNumber <= highest) throw new Error(`${file}: the engine did not resend "${l.line}"`);
      h.send(parts.command, 1000 + sendIndex);
      pending.push(...h.take());
    }
    expect(`${file}: ${pending.shift()}`).toBe(`${file}: ${l.line}`);
    highest = Math.max(highest, unframe(l.line).lineNumber ?? 0);
  }
  pending = pending.filter((p) => !p.includes("M105")); // a poll due after the transcript ends
  expect(pending).toEqual(after);
  return h;
}

describe("protocol.md §9 with the engine as the host", () => {
  test("9.1 connect to Marlin 2.1: hello, M115, M155, M27 S1, M876 P1, M21, M20 L T", () => {
    const lines = parseTranscript(readFileSync(join(DIR, "9.1-connect-marlin.txt"), "utf8"));
    const h = new EngineHarness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.take(); // the hello written on open, before the board had booted
    const sent: string[] = [];
    for (const l of lines) {
      if (l.dir === "recv") {
        h.recv(l.line);
        if (l.line === "ok") h.advance(300); // the settle time after a repeated hello
      } else {
        sent.push(l.line);
      }
    }
    expect(h.take()).toEqual(sent);
    const fw = h.of("firmware")[0]!;
    expect(fw.profile).toBe("marlin2");
    expect(fw.capabilities).toMatchObject({ AUTOREPORT_TEMP: true, EMERGENCY_PARSER: true, PROMPT_SUPPORT: true, EXTENDED_M20: true });
    expect(h.of("sd").find((e) => e.message.type === "list")!.message).toEqual({
      type: "list",
      files: [
        { name: "CALIB~1.GCO", size: 1048576, longName: "calibration cube.gcode" },
        { name: "PARTS~1/BRACKE~1.GCO", size: 20480, longName: "parts/bracket v2.gcode" },
      ],
    });
  });

  test("9.2a Marlin ping-pong resend", () => {
    const h = play("9.2a-resend-marlin.txt", { firmwareName: "Marlin 2.1.2.1" });
    expect(h.engine.stats.resendRequests).toBe(1);
  });

  test("9.2b windowed (ADVANCED_OK): the echo of the resend request is ignored", () => {
    const h = play("9.2b-resend-windowed.txt", { firmwareName: "Marlin 2.1.2.1", window: 4, advancedOk: true });
    expect(h.engine.stats.resendRequests).toBe(2);
    expect(h.engine.stats.linesResent).toBe(2);
  });

  test("9.2c Repetier: blank line, Resend:12, ok 12, skip 12", () => {
    const h = play("9.2c-resend-repetier.txt", { firmwareName: "Repetier_1.0.4", skipSends: [2] });
    expect(h.engine.profile.id).toBe("repetier");
    expect(h.engine.state).toBe("operational");
  });

  test("9.2d Smoothieware: rs N12 without an ok", () => {
    const h = play("9.2d-resend-smoothie.txt", { firmwareName: "Smoothieware, FIRMWARE_URL:http%3A//smoothieware.org,", caps: [] });
    expect(h.engine.profile.id).toBe("smoothieware");
  });

  test("9.3 heat-up with busy lines (Marlin) and with on-receipt acks (Repetier): no timeouts", () => {
    const m = play("9.3-heatup-marlin.txt", { firmwareName: "Marlin 2.1.2.1", busySeen: true });
    expect(m.engine.stats.timeouts).toBe(0);
    expect(m.of("busy").length).toBe(4);
    const r = play("9.3-heatup-repetier.txt", { firmwareName: "Repetier_1.0.4" });
    expect(r.of("target")[0]).toMatchObject({ heater: "tool0", target: 210 });
    expect(r.of("busy")[0]!.reason).toBe("heating");
  });

  test("9.4 SD print with status polling; M24's //action:resume is our own echo", () => {
    const h = play("9.4-sd-print.txt", { firmwareName: "Marlin 2.1.2.1", caps: ["Cap:AUTOREPORT_TEMP:1", "Cap:SDCARD:1", "Cap:HOST_ACTION_COMMANDS:1"] });
    expect(h.of("action")).toEqual([{ type: "action", name: "resume", params: "", echo: true }]);
    expect(h.of("sd").map((e) => e.message.type)).toEqual(["fileOpened", "fileSelected", "progress", "progress", "progress", "done", "notPrinting"]);
  });

  test("9.5a thermal runaway: fatal on the first line, link stopped", () => {
    const h = play("9.5a-thermal-runaway.txt", { firmwareName: "Marlin 2.1.2.1" });
    expect(h.of("state").at(-1)).toMatchObject({ state: "error", problem: { code: "firmware_fatal" } });
  });

  test("9.5b M112 from the host: bare and numbered (then the heaters off, as OctoPrint does)", () => {
    const h = play("9.5b-m112.txt", { firmwareName: "Marlin 2.1.2.1" }, [frame(901, "M104 T0 S0"), frame(902, "M140 S0")]);
    expect(h.of("state").at(-1)).toMatchObject({ state: "error", problem: { code: "emergency_stop" } });
  });

  test("the emergency stop is the sequence OctoPrint sent in the real transcript klipper-859", () => {
    // Two lines after the hello, as in that session (here M115 and an auto-report request).
    const h = prelude({ firmwareName: "Marlin 2.1.2.1", caps: ["Cap:AUTOREPORT_TEMP:1", "Cap:SDCARD:0"] }, 3);
    h.send("M112");
    expect(h.take()).toEqual(["M112", "N3 M112*34", "N4 M104 T0 S0*37", "N5 M140 S0*96"]);
  });

  test("9.5c Klipper after M112: shutdown and its `!!` lines are acked, the link stays in step", () => {
    const lines = parseTranscript(readFileSync(join(DIR, "9.5c-klipper-m112.txt"), "utf8")).filter((l) => l.dir === "recv");
    const h = new EngineHarness(new ProtocolEngine({ quirks: library.get("generic"), library })).open();
    h.recv("ok", "ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0", "ok", "ok");
    h.send("G28").send("FIRMWARE_RESTART");
    for (const l of lines) h.recv(l.line);
    // The `!!` line waited one line for a resend request; the ok after it settled it.
    expect(h.of("firmwareError").map((e) => [e.errorClass, e.policy])).toEqual([["fatal", "cancelJob"], ["error", "cancelJob"]]);
    expect(h.engine.state).toBe("operational");
    expect(h.engine.outstanding()).toBe(0);
  });
});
