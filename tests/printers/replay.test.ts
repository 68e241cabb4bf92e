/**
 * `layerline replay`: a flight-recorder trace recorded from a real session (the host streaming a
 * file to a virtual printer that damages lines) replays through the engine and against the
 * virtual printer; a trace made from a real firmware transcript is classified.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandsOf, parseTrace, replayTrace } from "../../src/printers/replay.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { builtInLibrary } from "../helpers/quirks.ts";
import { parseTranscript } from "../protocol/transcripts.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const library = await builtInLibrary();
let host: TestHost;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-replay-"));
  host = await startTestHost({ virtual: { timeScale: 0, seed: 3, faults: { corrupt: { every: 23 } } } });
}, 30_000);
afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a recorded session with resends replays: same firmware, every command again once, in order", async () => {
  const { printers } = await (await host.api("/api/v1/printers")).json();
  const id = printers[0].id;
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && p.firmware !== null);
  const program = Array.from({ length: 300 }, (_, i) => `G1 X${i % 50} Y${(i * 3) % 50} F3000`).join("\n");
  await upload(host, "zigzag.gcode", program);
  await host.post(`/api/v1/printers/${id}/job`, { file: "zigzag.gcode" });
  await host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.job?.state === "done", 30_000);

  const path = join(dir, "trace.jsonl");
  writeFileSync(path, await (await host.api(`/api/v1/printers/${id}/trace`)).text());
  const trace = parseTrace(readFileSync(path, "utf8"));
  expect(trace.bad).toEqual([]);
  // The commands of the session, resends left out: the job's 300 lines are among them, in order.
  const commands = commandsOf(trace.entries).filter((c) => c.startsWith("G1 "));
  expect(commands).toEqual(program.split("\n"));

  const report = replayTrace(trace, library);
  expect(report.profile).toBe("marlin2");
  expect(report.firmware).toStartWith("Marlin");
  expect(report.resendRequests).toBeGreaterThan(5);
  expect(report.kinds["error resendFollows"]).toBe(report.resendRequests);
  expect(report.rerun).toMatchObject({ personality: "marlin2", executedInOrder: true });

  const cli = Bun.spawnSync(["bun", MAIN, "replay", path], { stdout: "pipe", stderr: "pipe" });
  const out = cli.stdout.toString();
  expect(cli.exitCode).toBe(0);
  expect(out).toContain("Firmware: Marlin");
  expect(out).toMatch(/Resend requests: \d+/);
  expect(out).toContain("every one ran once, in order");
}, 60_000);

test("a trace made from the real Klipper transcript is classified with Klipper's rules", () => {
  const lines = parseTranscript(readFileSync(new URL("../fixtures/serial-logs/klipper-3399_klipper_printer-not-ready-during-print.txt", import.meta.url), "utf8"));
  const trace = parseTrace(lines.map((l, i) => JSON.stringify({ t: 1_700_000_000_000 + i * 100, dir: l.dir, line: l.line })).join("\n"));
  const report = replayTrace(trace, library);
  expect(report.profile).toBe("klipper");
  expect(report.errors.map((e) => e.policy)).toEqual(["cancelJob", "cancelJob", "cancelJob", "cancelJob"]);
  expect(report.rerun.personality).toBe("klipper");
  expect(report.rerun.executedInOrder).toBe(true);
});

test("bad input: not a trace, or no such file", () => {
  const notJson = Bun.spawnSync(["bun", MAIN, "replay", MAIN], { stdout: "pipe", stderr: "pipe" });
  expect(notJson.exitCode).toBe(1);
  expect(notJson.stderr.toString()).toContain("holds no trace lines");
  const missing = Bun.spawnSync(["bun", MAIN, "replay", "/nonexistent.jsonl"], { stdout: "pipe", stderr: "pipe" });
  expect(missing.exitCode).toBe(1);
  expect(missing.stderr.toString()).toContain("There is no file");
});

test("a session with a copy to the SD card, an SD print and a dialog a person answered replays the same", async () => {
  const { printers } = await (await host.api("/api/v1/printers")).json();
  const id = printers[0].id;
  const at = `/api/v1/printers/${id}`;
  await host.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null);
  const program = Array.from({ length: 120 }, (_, i) => `G1 X${i % 40} Y${(i * 7) % 40} F3000`).join("\n");
  await upload(host, "card.gcode", program);
  expect((await host.post(`${at}/sd/upload`, { file: "card.gcode" })).status).toBe(202);
  await host.waitFor(`${at}/sd`, (sd: any) => sd.upload === null && sd.files.some((f: any) => f.longName === "card.gcode"));
  expect((await host.post(`${at}/sd/print`, { name: "CARD.GCO" })).status).toBe(200);
  await host.waitFor(at, (p: any) => p.job?.state === "done");
  // M0 waits for a click; the answer (M876 S0) went out only once the dialog showed.
  await host.post(`${at}/commands`, { commands: ["M0 Check the bed"] });
  await host.waitFor(at, (p: any) => p.prompt !== null);
  expect((await host.post(`${at}/prompt`, { choice: 0 })).status).toBe(200);
  await host.waitFor(at, (p: any) => p.prompt === null);
  await host.post(`${at}/commands`, { commands: ["M117 after the dialog"] });
  await Bun.sleep(300);

  const trace = parseTrace(await (await host.api(`${at}/trace`)).text());
  const commands = commandsOf(trace.entries);
  expect(commands).toContain("M28 card.gcode");
  expect(commands).toContain("M876 S0");
  const report = replayTrace(trace, library);
  expect(report.rerun.mismatch).toBeUndefined();
  expect(report.rerun.executedInOrder).toBe(true);
  expect(report.rerun.cardLines).toBe(120);
}, 60_000);
