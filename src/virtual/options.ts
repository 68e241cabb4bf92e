/**
 * Options of the virtual printer, validated at the edge (design principle 4). The inferred output
 * type is the only type; every field has a default, so `parseVirtualPrinterOptions({})` is the
 * embedded printer's first-start configuration.
 */
import * as v from "valibot";
import { PERSONALITIES } from "./personalities.ts";
import { demoFile, type CardSeed } from "./sdcard.ts";

/** One executed command as the firmware ran it: line number (if the line had one), text, and where it came from. */
export interface ExecutedLine {
  n: number | undefined;
  command: string;
  /** `sd` for commands read from the card during an SD print. */
  source?: "serial" | "sd";
  /** A move inside a cancelled object: read, but the head stayed and no filament moved. */
  skipped?: boolean;
}

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/**
 * When a line-level fault fires. All triggers count only *numbered* lines received (unnumbered
 * lines carry no checksum, so damaging them would silently run a different command).
 */
const triggerSchema = v.strictObject({
  /** Line numbers (N) whose first reception is hit; a resend of the same N goes through clean. */
  lines: v.optional(v.array(count), []),
  /** Hit every n-th numbered line received (2 = every second one); 0 = off. 1 would hit every resend too. */
  every: v.optional(v.union([v.literal(0), v.pipe(count, v.minValue(2))]), 0),
  /** Chance per numbered line received, drawn from the seeded generator. */
  probability: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(0.5)), 0),
});

/** A trigger for faults that last a while: how long, in wall-clock ms. */
const timedTriggerSchema = v.strictObject({
  ...triggerSchema.entries,
  ms: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(3_600_000)), 5000),
});

/**
 * Deterministic (given `seed`) faults. Each kind has its own trigger and its own random stream,
 * so enabling one never shifts the decisions of another. Host → firmware faults count numbered
 * lines received; firmware → host faults (`corruptReply`, `dropReply`) count lines sent.
 */
const faultsSchema = v.strictObject({
  /** Flip one bit inside the command part of the line, so its checksum fails (a noisy cable). */
  corrupt: v.optional(triggerSchema, {}),
  /** Lose the whole line; the next numbered line then fails the line-number check. */
  drop: v.optional(triggerSchema, {}),
  /** Flip one bit of a line the firmware sends (an `ok` becomes garbage, a report becomes noise). */
  corruptReply: v.optional(triggerSchema, {}),
  /** Lose a line the firmware sends (a lost `ok`). */
  dropReply: v.optional(triggerSchema, {}),
  /** Leave out the `ok` after a resend request (some Marlin 2.0.x builds); counts resend requests. */
  missingOkAfterResend: v.optional(triggerSchema, {}),
  /** Answer an intact line with a resend request for it (a false alarm of the firmware's check). */
  spuriousResend: v.optional(triggerSchema, {}),
  /** Reboot instead of taking the line (a brown-out or watchdog reset mid-print). */
  reset: v.optional(triggerSchema, {}),
  /** Stop answering for `ms` (a stalled USB stack); input received meanwhile waits in the buffer. */
  silence: v.optional(timedTriggerSchema, {}),
  /** Before running the line, wait `ms` with busy keep-alives, like a heater that is slow to settle. */
  busyHeater: v.optional(timedTriggerSchema, {}),
});

/**
 * Simulation speed. 1 = real time. 50 = fifty times faster heating, moves, dwells and homing.
 * 0 or Infinity = instant: moves, dwells and homing take no time and heaters jump to their target,
 * so a file streams at link speed (use 0 in JSON, which cannot hold Infinity).
 * Host-facing cadences (M155/M154/M27 autoreports, busy keep-alives, the 1 s heat-wait lines) stay
 * in wall-clock time at every speed.
 */
const timeScaleSchema = v.pipe(
  v.number(),
  v.check(
    (x) => x === 0 || x === Infinity || (x >= 0.01 && x <= 1000),
    "timeScale must be 0 or Infinity (instant) or between 0.01 and 1000",
  ),
);

/** The options schema; see each field. */
export const virtualPrinterOptionsSchema = v.strictObject({
  /** Seed of every random choice (sensor noise, probabilistic faults). */
  seed: v.optional(v.pipe(v.number(), v.integer()), 1),
  timeScale: v.optional(timeScaleSchema, 1),
  /** Number of hotends (tools T0…). With more than one, temperature lines list `T0:`/`T1:`. */
  extruders: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(8)), 1),
  /** Planner buffer size in blocks (Marlin BLOCK_BUFFER_SIZE). */
  plannerBlocks: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(256)), 16),
  /** Command queue size (Marlin BUFSIZE 4, Klipper 20): lines read ahead of execution; default per personality. */
  commandBuffer: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64))),
  /** Room temperature in °C: where heaters start and cool back to. */
  ambient: v.optional(v.pipe(v.number(), v.minValue(-20), v.maxValue(60)), 22),
  /** Act on M108/M112/M410 as the bytes arrive (Marlin EMERGENCY_PARSER, reported as a Cap). */
  emergencyParser: v.optional(v.boolean(), true),
  /** MACHINE_TYPE in the M115 reply. */
  machineName: v.optional(v.pipe(v.string(), v.regex(/^[ -~]{1,40}$/)), "Layerline Virtual"),
  faults: v.optional(faultsSchema, {}),
  /** Which firmware family to behave as; its wire behaviour is read from that family's quirks profile. */
  personality: v.optional(v.picklist(PERSONALITIES), "marlin2"),
  /** Marlin's ADVANCED_OK: `ok N<n> P<planner free> B<buffer free>` (Marlin personality only). */
  advancedOk: v.optional(v.boolean(), false),
  /** Serial speed of the emulated wire, each byte 10 bit times in both directions; 0 = instant. */
  baudRate: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(4_000_000)), 0),
  /** Marlin's RX_BUFFER_SIZE: bytes received but not yet read; more are lost (an overrun); 0 = unlimited. */
  rxBufferBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65536)), 0),
  /** Old Marlin's M30 reply without its newline: `File deleted:NAMEok`, the ok run into the reply (protocol.md §4.3). */
  gluedDeleteOk: v.optional(v.boolean(), false),
  /**
   * The firmware cancels labelled objects itself, in the way its family does (the quirks'
   * `cancelObject.labels`: Marlin built with CANCEL_OBJECTS, `M486`; Klipper with
   * [exclude_object], `EXCLUDE_OBJECT`). Off: those commands are unknown to it.
   */
  cancelObjects: v.optional(v.boolean(), true),
  /** Marlin's NO_MOTION_BEFORE_HOMING: every move is refused (`echo:Home XYZ First`) until X, Y and Z were homed since power-on. */
  noMotionBeforeHoming: v.optional(v.boolean(), false),
  /** Whether a card is in the slot. */
  sdCard: v.optional(v.boolean(), true),
  /** Files on the card at power-on (default: one small demo print). */
  sdFiles: v.optional(v.array(v.object({ name: v.pipe(v.string(), v.regex(/^[ -~]{1,120}$/)), content: v.string() })), () => [demoFile()]),
  /** Called once for each command the firmware executes, in execution order. */
  onExecute: v.optional(
    v.custom<(line: ExecutedLine) => void>((x) => typeof x === "function", "onExecute must be a function"),
  ),
  /** Called once for each line stored in a card file between M28 and M29 (stored, not executed), in order. */
  onCardWrite: v.optional(v.custom<(line: string) => void>((x) => typeof x === "function", "onCardWrite must be a function")),
});

/** Options with every default filled in. */
export type VirtualPrinterOptions = v.InferOutput<typeof virtualPrinterOptionsSchema>;
/** Options as a caller may write them (every field optional). */
export type VirtualPrinterOptionsInput = v.InferInput<typeof virtualPrinterOptionsSchema>;
/** A fault trigger with defaults filled in. */
export type FaultTrigger = v.InferOutput<typeof triggerSchema>;
/** The fault configuration with defaults filled in. */
export type Faults = v.InferOutput<typeof faultsSchema>;
export type { CardSeed };

/**
 * Validates options and fills defaults; throws a `v.ValiError` naming the bad field.
 * Example: `parseVirtualPrinterOptions({ timeScale: 0 }).plannerBlocks === 16`.
 */
export function parseVirtualPrinterOptions(input: VirtualPrinterOptionsInput = {}): VirtualPrinterOptions {
  return v.parse(virtualPrinterOptionsSchema, input);
}
