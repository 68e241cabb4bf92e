/**
 * Golden replays (issue #3): every transcript in tests/fixtures/serial-logs and every sample of
 * protocol.md §9 (tests/fixtures/protocol-md) goes through the engine; each received line must get
 * the reviewed classification, and what the engine makes of the session (profile, resets, errors
 * and their policies, SD events) is checked per transcript. What the engine sends in the §9
 * samples is checked byte for byte by host-replay.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { EngineEvent } from "../../src/protocol/engine.ts";
import { builtInLibrary } from "../helpers/quirks.ts";
import { expectedPath, replay, transcripts, type Replay } from "./golden.ts";

const library = await builtInLibrary();
const replays = new Map<string, Replay>(transcripts().map((f) => [f, replay(f, library)]));
const r = (name: string) => replays.get(name.startsWith("9.") ? `protocol-md/${name}` : `serial-logs/${name}`)!;
const of = <T extends EngineEvent["type"]>(rep: Replay, type: T) =>
  rep.events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type);

describe("every received line is classified as reviewed", () => {
  test("all 15 firmware transcripts and 11 protocol.md samples are here", () => {
    expect([...replays.keys()].filter((f) => f.startsWith("serial-logs/"))).toHaveLength(15);
    expect([...replays.keys()].filter((f) => f.startsWith("protocol-md/"))).toHaveLength(11);
  });
  for (const [file, rep] of replays) {
    test(file, () => {
      const expected = readFileSync(expectedPath(file), "latin1").split("\n").slice(0, -1);
      expect(rep.classified).toEqual(expected);
    });
  }
});

describe("what the engine makes of each session", () => {
  test("Marlin 2.1 native: resends, M115 with 36 Cap lines, busy, heating, SD list/upload/print, M112", () => {
    const rep = r("marlin-2.1-native_full-session_resend-sd-busy-m112.txt");
    expect(rep.profile).toBe("marlin2");
    const fw = of(rep, "firmware")[0]!;
    expect(Object.keys(fw.capabilities)).toHaveLength(36);
    expect(fw.capabilities.AUTOREPORT_SD_STATUS).toBe(true);
    expect(of(rep, "firmwareError").map((e) => e.errorClass)).toEqual(["resendFollows", "resendFollows", "resendFollows", "fatal"]);
    const lists = of(rep, "sd").filter((e) => e.message.type === "list").map((e) => (e.message as { files: { name: string; size?: number; longName?: string }[] }).files);
    expect(lists[1]).toEqual([
      { name: "TEST.GCO", size: 42, longName: "TEST.GCO" },
      { name: "ALONGE~1.GCO", size: 854, longName: "a longer file name.gcode" },
      { name: "SUBDIR/INNER.GCO", size: 42, longName: "/INNER.GCO" },
    ]);
    expect(lists[2]!.map((f) => f.name)).toContain("NEW.GCO");
    const sd = of(rep, "sd").map((e) => e.message.type);
    for (const t of ["cardOk", "writing", "saved", "fileOpened", "fileSelected", "progress", "done"]) expect(sd).toContain(t as never);
    expect(of(rep, "busy").length).toBe(15);
    // The M112 at the end: the fatal line stops the link with the firmware's words.
    expect(of(rep, "state").at(-1)).toMatchObject({ state: "error", problem: { code: "firmware_fatal" } });
  });

  test("Marlin 1.1.9 on an Anet A8: reset banner during connect, Marlin 1 profile, auto-report", () => {
    const rep = r("marlin-1.1.9_anet-a8_octoprint-terminal_full.txt");
    expect(rep.profile).toBe("marlin1");
    expect(of(rep, "firmware")[0]!.capabilities).toMatchObject({ AUTOREPORT_TEMP: true, EMERGENCY_PARSER: false, THERMAL_PROTECTION: true });
    expect(of(rep, "temperature").length).toBeGreaterThan(300);
    expect(of(rep, "state").some((s) => s.state === "error")).toBe(false);
  });

  test("Marlin bugfix-1.1.x: SD init fail, then `ok T:start` — a reset mid-reply is detected", () => {
    const rep = r("marlin-6571_bugfix-1.1.x_connect-m115-reset.txt");
    expect(of(rep, "sd").map((e) => e.message.type)).toContain("cardFail");
    expect(of(rep, "reset")).toHaveLength(1);
  });

  test("Marlin 1.0.0: a second reset in the middle of a file list", () => {
    const rep = r("octopi-105_marlin-1.0.0_connect-and-reset.txt");
    expect(of(rep, "reset")).toHaveLength(1); // the first `start` comes during the handshake
    // The reset voids the listing: the banner that follows is not taken for file names.
    expect(of(rep, "sd").some((e) => e.message.type === "list")).toBe(false);
  });

  test("Repetier-style `Error:Wrong checksum` + blank + `Resend:2`, and `ok 1`", () => {
    const rep = r("octoprint-3122_checksum-error-resend.txt");
    expect(rep.classified.map((l) => l.split("\t")[0])).toEqual(["ok", "ok N1", "error resendFollows", "text", "resend 2"]);
  });

  test("an SD upload's end, the file list and the old `@:0%` temperature format", () => {
    const rep = r("octoprint-579_sd-upload-m28-m29-filelist.txt");
    const list = of(rep, "sd").find((e) => e.message.type === "list")!.message as { files: { name: string }[] };
    expect(list.files).toEqual([{ name: "RIOLU~1.GCO" }]);
    expect(of(rep, "temperature").at(-1)!.report.tool0!.actual).toBe(21.8);
  });

  test("Prusa: temperatures with P:/A:, heat-wait lines without targets, busy while paused for user", () => {
    const a = r("octoprint-4422_prusa-fw-3.10.1_mmu2s_busy-paused-for-user.txt");
    expect(of(a, "temperature")[0]!.report).toMatchObject({ tool0: { actual: 104.8, target: 240 }, bed: { actual: 49.1, target: 85 }, A: { actual: 34.3 } });
    expect(of(a, "busy")[0]!.reason).toBe("paused for user");
    const b = r("prusa-firmware-3180_prusa-fw-3.10.1_autoreport-timeout.txt");
    expect(of(b, "temperature")[1]!.report).toEqual({ tool0: { actual: 238.75, target: undefined }, bed: { actual: 84.2, target: undefined } });
    const c = r("prusa-firmware-3417_prusa-fw_busy-processing-autoreport_raw.txt");
    expect(of(c, "busy")).toHaveLength(6);
    expect(of(c, "temperature")).toHaveLength(13);
  });

  test("Anycubic (knutwurst Marlin 2) and OctoPrint's serial.log: busy protocol with heat-wait W: lines", () => {
    for (const name of ["knutwurst-53_marlin2-anycubic-mega-s_print-start-busy-protocol.txt", "octoprint-2566_serial.log-format_timestamped_busy-heating.txt"]) {
      const rep = r(name);
      expect(of(rep, "busy").length).toBeGreaterThanOrEqual(4);
      expect(of(rep, "temperature").length).toBeGreaterThanOrEqual(10);
    }
  });

  test("Marlin 2.0.8 with time stamps: the Cap list parses", () => {
    const rep = r("marlin-21796_marlin-2.0.8_timestamped-m115-caps.txt");
    expect(rep.classified.filter((l) => l.startsWith("cap ")).length).toBe(22);
  });

  test("Klipper: `!!` errors cancel the job but keep the link; state lines identify it", () => {
    const rep = r("klipper-3399_klipper_printer-not-ready-during-print.txt");
    expect(rep.profile).toBe("klipper");
    expect(of(rep, "firmwareError").every((e) => e.policy === "cancelJob")).toBe(true);
    expect(of(rep, "firmwareError").length).toBe(4);
    expect(of(rep, "state").some((s) => s.state === "error")).toBe(false);
    expect(r("klipper-859_klipper_not-ready-then-m112.txt").profile).toBe("klipper");
    expect(r("klipper-990_klipper_firmware-restart-ready.txt").profile).toBe("klipper");
  });

  test("protocol.md §9.1: a generic start detects Marlin 2 from M115, reads 17 Cap lines and the extended M20 list", () => {
    const rep = r("9.1-connect-marlin.txt");
    expect(rep.profile).toBe("marlin2");
    expect(Object.keys(of(rep, "firmware")[0]!.capabilities)).toHaveLength(17);
    expect(of(rep, "reset")).toHaveLength(0); // the `start` before the hello's ok is the connect itself
    const list = of(rep, "sd").find((e) => e.message.type === "list")!.message as { files: unknown[] };
    expect(list.files).toEqual([
      { name: "CALIB~1.GCO", size: 1048576, longName: "calibration cube.gcode" },
      { name: "PARTS~1/BRACKE~1.GCO", size: 20480, longName: "parts/bracket v2.gcode" },
    ]);
  });

  test("protocol.md §9.5: Marlin's thermal runaway and kill() drop the link; Klipper's shutdown halts and keeps it", () => {
    for (const name of ["9.5a-thermal-runaway.txt", "9.5b-m112.txt"]) {
      const rep = r(name);
      expect(of(rep, "firmwareError").map((e) => e.policy)).toEqual(["disconnect"]);
      expect(of(rep, "state").at(-1)).toMatchObject({ state: "error", problem: { code: "firmware_fatal" } });
    }
    const k = r("9.5c-klipper-m112.txt");
    expect(of(k, "halted")).toHaveLength(1);
    expect(of(k, "recovered")).toHaveLength(1);
    expect(of(k, "state").some((s) => s.state === "error")).toBe(false);
  });
});
