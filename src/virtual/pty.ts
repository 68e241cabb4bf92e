/**
 * Runs the virtual printer on a tty (one end of a socat pty pair), so the host can drive it
 * through the real serial path. Optionally appends every executed command to a log file, one
 * line each, which end-to-end tests compare with the G-code file that was sent.
 *
 * CLI: `bun src/virtual/pty.ts --tty PATH [--log FILE] [--time-scale N] [--seed N]
 *   [--extruders N] [--corrupt-every N] [--corrupt-lines 5,9] [--corrupt-probability P]
 *   [--drop-every N] [--drop-lines 7] [--drop-probability P] [--no-emergency-parser]
 *   [--personality marlin2|prusa|repetier|smoothie|klipper] [--advanced-ok]
 *   [--no-cancel-objects] [--no-motion-before-homing]
 *   [--realistic] [--baud-rate N] [--rx-buffer N] [--faults JSON] [--stats] [--glued-delete-ok]`
 *
 * `--realistic` is the realistic timing mode: real time, bytes timed at 115200 baud both ways,
 * Marlin's 128-byte receive buffer; `--stats` prints the simulation's counters (underruns,
 * overruns, faults) as one JSON line on stderr when it stops; `--glued-delete-ok` answers M30 the way
 * old Marlin did, `File deleted:NAMEok`.
 */
import { Buffer } from "node:buffer";
import { closeSync, openSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { SerialTransport } from "../transport/serial.ts";
import type { VirtualFirmware } from "./firmware.ts";
import type { VirtualPrinterOptionsInput } from "./options.ts";
import { FirmwareRunner } from "./runner.ts";

/** A virtual printer attached to a tty. */
export interface VirtualPrinterOnTty {
  readonly firmware: VirtualFirmware;
  /** Detaches from the tty and closes the log. */
  close(): Promise<void>;
}

/**
 * Opens `path` at 115200 baud and serves it with a virtual printer (banner first).
 * Example: `const p = await runVirtualPrinterOnTty(pty.device, { timeScale: 0 }, { log: "x.log" });`
 */
export async function runVirtualPrinterOnTty(
  path: string,
  options: VirtualPrinterOptionsInput = {},
  io: { log?: string } = {},
): Promise<VirtualPrinterOnTty> {
  const logFd = io.log === undefined ? undefined : openSync(io.log, "a");
  const userHook = options.onExecute;
  const serial = new SerialTransport({ path, baudRate: 115200 });
  let runner: FirmwareRunner;
  try {
    runner = new FirmwareRunner(
      {
        ...options,
        onExecute: (line) => {
          // Written before the command runs, so the file never lags behind the `ok` the host sees.
          if (logFd !== undefined) writeSync(logFd, `${line.command}${line.skipped ? " ; skipped (cancelled object)" : ""}\n`);
          userHook?.(line);
        },
      },
      (text) => {
        serial.write(Buffer.from(text, "latin1")).catch(() => undefined); // a dead link shows up as `closed`
      },
    );
    await serial.open({
      data: (chunk) => runner.input(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1")),
      closed: () => runner.stop(),
    });
  } catch (error) {
    if (logFd !== undefined) closeSync(logFd);
    throw error;
  }
  runner.start();
  let closed = false;
  return {
    firmware: runner.firmware,
    async close() {
      if (closed) return;
      closed = true;
      runner.stop();
      await serial.close();
      if (logFd !== undefined) closeSync(logFd);
    },
  };
}

function lineList(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(",")
    .filter((s) => s.trim() !== "")
    .map((s) => Number(s));
}

function num(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

/** Turns CLI flags into options (validation happens when the firmware is built). */
export function optionsFromArgs(args: string[]): { tty: string; log: string | undefined; stats: boolean; options: VirtualPrinterOptionsInput } {
  const { values } = parseArgs({
    args,
    options: {
      tty: { type: "string" },
      log: { type: "string" },
      "time-scale": { type: "string" },
      seed: { type: "string" },
      extruders: { type: "string" },
      "corrupt-every": { type: "string" },
      "corrupt-lines": { type: "string" },
      "corrupt-probability": { type: "string" },
      "drop-every": { type: "string" },
      "drop-lines": { type: "string" },
      "drop-probability": { type: "string" },
      "no-emergency-parser": { type: "boolean" },
      "no-cancel-objects": { type: "boolean" },
      "no-motion-before-homing": { type: "boolean" },
      personality: { type: "string" },
      "advanced-ok": { type: "boolean" },
      realistic: { type: "boolean" },
      "baud-rate": { type: "string" },
      "rx-buffer": { type: "string" },
      faults: { type: "string" },
      stats: { type: "boolean" },
      "glued-delete-ok": { type: "boolean" },
    },
    strict: true,
  });
  if (values.tty === undefined) throw new Error("--tty PATH is required");
  const trigger = (every?: string, lines?: string, probability?: string) => {
    const t: { every?: number; lines?: number[]; probability?: number } = {};
    if (every !== undefined) t.every = num(every);
    if (lines !== undefined) t.lines = lineList(lines);
    if (probability !== undefined) t.probability = num(probability);
    return t;
  };
  let faults: Record<string, unknown> = {};
  if (values.faults !== undefined) {
    try {
      faults = JSON.parse(values.faults);
    } catch {
      throw new Error('--faults must be JSON, e.g. \'{"corrupt":{"probability":0.01},"silence":{"lines":[500],"ms":20000}}\'');
    }
  }
  const options: VirtualPrinterOptionsInput = {
    faults: {
      ...faults,
      corrupt: { ...(faults.corrupt as object), ...trigger(values["corrupt-every"], values["corrupt-lines"], values["corrupt-probability"]) },
      drop: { ...(faults.drop as object), ...trigger(values["drop-every"], values["drop-lines"], values["drop-probability"]) },
    } as VirtualPrinterOptionsInput["faults"],
  };
  if (values.realistic) {
    options.timeScale = 1;
    options.baudRate = 115200;
    options.rxBufferBytes = 128;
  }
  if (values.personality !== undefined) options.personality = values.personality as VirtualPrinterOptionsInput["personality"];
  if (values["advanced-ok"]) options.advancedOk = true;
  if (values["baud-rate"] !== undefined) options.baudRate = num(values["baud-rate"]);
  if (values["rx-buffer"] !== undefined) options.rxBufferBytes = num(values["rx-buffer"]);
  if (values["time-scale"] !== undefined) options.timeScale = num(values["time-scale"]);
  if (values.seed !== undefined) options.seed = num(values.seed);
  if (values.extruders !== undefined) options.extruders = num(values.extruders);
  if (values["no-emergency-parser"]) options.emergencyParser = false;
  if (values["glued-delete-ok"]) options.gluedDeleteOk = true;
  if (values["no-cancel-objects"]) options.cancelObjects = false;
  if (values["no-motion-before-homing"]) options.noMotionBeforeHoming = true;
  return { tty: values.tty, log: values.log, stats: values.stats === true, options };
}

/**
 * The `virtual-printer` command: serves a tty until SIGINT/SIGTERM. Resolves with the exit code
 * (2 for bad flags or options, 1 when the tty cannot be opened, 0 after a signal).
 */
export async function virtualPrinterCli(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof optionsFromArgs>;
  let printer: VirtualPrinterOnTty;
  try {
    parsed = optionsFromArgs(args);
  } catch (error) {
    console.error(`virtual printer: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  try {
    printer = await runVirtualPrinterOnTty(parsed.tty, parsed.options, { log: parsed.log });
  } catch (error) {
    console.error(`virtual printer: ${error instanceof Error ? error.message : String(error)}`);
    return error instanceof v.ValiError ? 2 : 1;
  }
  console.error(`virtual printer on ${parsed.tty}${parsed.log === undefined ? "" : `, logging to ${parsed.log}`}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  if (parsed.stats) {
    const s = printer.firmware.state;
    console.error(JSON.stringify({ underruns: s.underruns, starvedMs: Math.round(s.starvedMs), overruns: s.overruns, faults: s.faults, lastLineNumber: s.lastLineNumber }));
  }
  await printer.close();
  return 0;
}

if (import.meta.main) {
  process.exit(await virtualPrinterCli(Bun.argv.slice(2)));
}
