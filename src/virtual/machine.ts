/**
 * Everything the commands of the virtual printer act on: heaters, planner, positioning, fans,
 * auto-reporters, the line sequencer (for M110) and the output. No I/O: output lines are
 * collected for the firmware to hand out; time comes in as arguments.
 */
import { AutoReporter } from "./autoreport.ts";
import { BED_MODEL, HOTEND_MODEL, Heater, HeaterBank } from "./heater.ts";
import { Motion } from "./motion.ts";
import type { VirtualPrinterOptions } from "./options.ts";
import { Planner } from "./planner.ts";
import { EmptySdCard } from "./sdcard.ts";
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
  readonly sequencer = new LineSequencer();
  readonly sd = new EmptySdCard();
  readonly temperatureReporter = new AutoReporter();
  readonly positionReporter = new AutoReporter();
  readonly sdReporter = new AutoReporter();
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
  allowColdExtrusion = false;
  extrudeMinTemp = EXTRUDE_MINTEMP;
  halted = false;
  private out: string[] = [];

  constructor(
    readonly options: VirtualPrinterOptions,
    now: number,
  ) {
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

  /** Everything printed since the last call, each line `\n`-terminated. */
  takeOutput(): string {
    if (this.out.length === 0) return "";
    const text = `${this.out.join("\n")}\n`;
    this.out = [];
    return text;
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

  /** Marlin `kill()` after M112: heaters off, moves dropped, then silence until reboot. */
  kill(): void {
    if (this.halted) return;
    for (let i = 0; i <= this.extruders; i++) this.heaters.setTarget(i, 0);
    this.planner.clear();
    this.print("echo:M112 Shutdown");
    this.print("Error:Printer halted. kill() called!");
    this.print("//action:poweroff"); // ACTION_ON_KILL, sent because HOST_ACTION_COMMANDS is on
    this.halted = true;
  }

  /** State after a reset: targets off, queues empty, modes and reporters back to defaults. */
  reboot(): void {
    for (let i = 0; i <= this.extruders; i++) this.heaters.setTarget(i, 0);
    this.planner.clear();
    this.motion = new Motion();
    this.sequencer.lastN = 0;
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
