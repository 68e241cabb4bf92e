/**
 * Everything the commands of the virtual printer act on: heaters, planner, positioning, fans,
 * auto-reporters, the line sequencer (for M110) and the output. No I/O: output lines are
 * collected for the firmware to hand out; time comes in as arguments.
 */
import { AutoReporter } from "./autoreport.ts";
import { BED_MODEL, HOTEND_MODEL, Heater, HeaterBank } from "./heater.ts";
import { Motion } from "./motion.ts";
import { ObjectLabels } from "./objects.ts";
import type { VirtualPrinterOptions } from "./options.ts";
import type { Personality } from "./personalities.ts";
import { Planner, type Vec4 } from "./planner.ts";
import { SdCard } from "./sdcard.ts";
import { LineSequencer } from "./sequence.ts";

/** Marlin's EXTRUDE_MINTEMP: E moves below this hotend temperature are refused. */
export const EXTRUDE_MINTEMP = 170;
/** Marlin's EXTRUDE_MAXLENGTH: single E moves longer than this are refused. */
export const EXTRUDE_MAXLENGTH = 200;

/** The printer's state, shared by the command handlers and the firmware loop. */
export class Machine {
  readonly heaters: HeaterBank;
  readonly planner: Planner;
  motion = new Motion();
  readonly sequencer: LineSequencer;
  readonly sd: SdCard;
  readonly temperatureReporter = new AutoReporter();
  readonly positionReporter = new AutoReporter();
  readonly sdReporter = new AutoReporter();
  /** Object labels and which objects are cancelled (CANCEL_OBJECTS / exclude_object). */
  readonly objects = new ObjectLabels();
  /** Active tool (hotend index). */
  tool = 0;
  /** Part-cooling fan speed, 0…255. */
  fanSpeed = 0;
  /** Last M117 text. */
  message = "";
  /** M113 interval, seconds (0 = no busy lines). */
  keepaliveSeconds = 2;
  /** Marlin's `wait_for_heatup`: cleared by M108 to break a heating wait. */
  waitForHeatup = false;
  /** Marlin's `wait_for_user`: cleared by M108 or a prompt answer (M876 S). */
  waitForUser = false;
  allowColdExtrusion = false;
  extrudeMinTemp = EXTRUDE_MINTEMP;
  halted = false;
  /** Halted but still answering (Klipper's shutdown, Smoothie's HALT): every command gets `whileHalted`. */
  shutdown = false;
  /** Moves are being fed back to back: a planner that runs dry now is starved, not idle. */
  feeding = false;
  /** Times the planner ran dry between two moves of a stream, and for how long in total. */
  underruns = 0;
  starvedMs = 0;
  private out: string[] = [];

  constructor(
    readonly options: VirtualPrinterOptions,
    readonly personality: Personality,
    now: number,
  ) {
    this.sequencer = new LineSequencer(personality);
    this.sd = new SdCard(options.sdFiles, options.sdCard);
    const heaters: Heater[] = [];
    for (let e = 0; e < options.extruders; e++) heaters.push(new Heater(HOTEND_MODEL, options.ambient));
    heaters.push(new Heater(BED_MODEL, options.ambient));
    this.heaters = new HeaterBank(heaters, now, scaleOf(options.timeScale), options.seed, options.ambient);
    this.planner = new Planner(options.plannerBlocks);
  }

  /** Number of hotends; heater index `extruders` is the bed. */
  get extruders(): number {
    return this.options.extruders;
  }

  /** Heater index of the bed. */
  get bed(): number {
    return this.options.extruders;
  }

  /** Whether simulated durations are zero (timeScale 0 or Infinity). */
  get instant(): boolean {
    return this.heaters.instant;
  }

  /** Wall-clock milliseconds for `seconds` of simulated time. */
  wallMs(seconds: number): number {
    return this.instant ? 0 : (seconds * 1000) / this.heaters.scale;
  }

  /** Simulated seconds in `ms` of wall-clock time. */
  simSeconds(ms: number): number {
    return this.instant ? 0 : (ms * this.heaters.scale) / 1000;
  }

  /** Prints one line to the host. */
  print(line: string): void {
    this.out.push(line);
  }

  /** Every line printed since the last call. */
  takeLines(): string[] {
    const out = this.out;
    if (out.length) this.out = [];
    return out;
  }

  /** Part fan speed; the airflow also cools the nozzle a little, which the heater must make up. */
  setFan(speed: number): void {
    this.fanSpeed = Math.min(Math.max(Math.round(speed), 0), 255);
    for (let e = 0; e < this.extruders; e++) this.heaters.heaters[e]!.cooling = (0.3 * this.fanSpeed) / 255;
  }

  /** Marlin `tooColdToExtrude` for the active tool. */
  tooColdToExtrude(): boolean {
    return !this.allowColdExtrusion && this.heaters.reading(this.tool) < this.extrudeMinTemp;
  }

  /**
   * `kill()` after M112: heaters off, moves dropped, the personality's words; then Marlin is
   * silent until reset, Prusa and Repetier reboot, Klipper and Smoothie answer every command
   * with their shutdown message.
   */
  kill(): void {
    if (this.halted || this.shutdown) return;
    for (let i = 0; i <= this.extruders; i++) this.heaters.setTarget(i, 0);
    this.planner.clear();
    this.sd.abort();
    for (const line of this.personality.kill("M112")) this.print(line);
    if (this.personality.afterKill === "answers") this.shutdown = true;
    else this.halted = true;
  }

  /**
   * Queues a planner block. While moves stream back to back, a planner that ran dry before this
   * one arrived was starved: the print head stopped where it should not (counted as an underrun).
   */
  queueMove(from: Vec4, to: Vec4, durationMs: number, now: number): void {
    const lastEnd = this.planner.lastEndAt;
    if (this.feeding && lastEnd !== undefined && lastEnd < now) {
      this.underruns++;
      this.starvedMs += now - lastEnd;
    }
    this.feeding = true;
    this.planner.add(from, to, durationMs, now);
  }

  /** State after a reset: targets off, queues empty, modes and reporters back to defaults. */
  reboot(): void {
    for (let i = 0; i <= this.extruders; i++) this.heaters.setTarget(i, 0);
    this.planner.clear();
    this.motion = new Motion();
    this.sequencer.lastN = 0;
    this.shutdown = false;
    this.feeding = false;
    this.sd.reset();
    this.objects.reset();
    this.temperatureReporter.set(0, 0);
    this.positionReporter.set(0, 0);
    this.sdReporter.set(0, 0);
    this.tool = 0;
    this.setFan(0);
    this.message = "";
    this.keepaliveSeconds = 2;
    this.waitForHeatup = false;
    this.allowColdExtrusion = false;
    this.extrudeMinTemp = EXTRUDE_MINTEMP;
    this.halted = false;
  }
}

/** The time scale as a factor; 0 (instant, JSON-friendly) becomes Infinity. */
export function scaleOf(timeScale: number): number {
  return timeScale === 0 ? Infinity : timeScale;
}
