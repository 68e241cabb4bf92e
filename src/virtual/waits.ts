/**
 * Commands that block the firmware (and withhold their `ok`) until something happens: a free
 * planner block, an empty planner plus a delay (G4, G28, M400), or a heater at temperature
 * (M109/M190). While one runs, Marlin reads no further commands and prints busy keep-alives.
 */
import type { Machine } from "./machine.ts";
import type { Vec4 } from "./planner.ts";

/** A command in progress. The firmware polls it at its wake times and whenever state changes. */
export interface Blocking {
  /** Runs the wait at `now`; true when the command has finished (its `ok` follows). */
  poll(now: number): boolean;
  /** The next time the wait itself needs a poll, or undefined when only other events can end it. */
  wakeAt(): number | undefined;
  /** What the busy keep-alive says while this runs. */
  readonly busyReason: "processing" | "heating" | "paused for user";
}

/** A move that found the planner full: it is queued as soon as a block finishes. */
export class PlannerSpaceWait implements Blocking {
  readonly busyReason = "processing";
  private discarded = false;

  constructor(
    private readonly m: Machine,
    private readonly from: Vec4,
    private readonly to: Vec4,
    private readonly durationMs: number,
  ) {}

  poll(now: number): boolean {
    if (this.discarded) return true;
    if (this.m.planner.isFull) return false;
    this.m.queueMove(this.from, this.to, this.durationMs, now);
    return true;
  }

  wakeAt(): number | undefined {
    return undefined;
  }

  /** M410 quick-stop: the move is dropped instead of queued. */
  discard(): void {
    this.discarded = true;
  }
}

/**
 * Waits for every queued move to finish (Marlin `planner.synchronize()`), then for `seconds` of
 * simulated time, then runs `finish`. M400 is (0 s, nothing); G4 is (dwell); G28 is (homing, report).
 */
export class DrainThen implements Blocking {
  readonly busyReason = "processing";
  private endsAt: number | undefined;

  constructor(
    private readonly m: Machine,
    private readonly seconds: number,
    private readonly finish?: () => void,
  ) {}

  poll(now: number): boolean {
    if (this.endsAt === undefined) {
      if (!this.m.planner.isEmpty) return false;
      this.m.feeding = false; // a deliberate stop: the planner is meant to be empty now
      this.endsAt = now + this.m.wallMs(this.seconds);
    }
    if (now < this.endsAt) return false;
    this.finish?.();
    return true;
  }

  wakeAt(): number | undefined {
    return this.endsAt;
  }
}

/** Residency and window settings of one kind of heater (Marlin TEMP_* / TEMP_BED_* defaults). */
export interface WaitRules {
  residencySeconds: number;
  window: number;
  hysteresis: number;
}

/** TEMP_RESIDENCY_TIME 10, TEMP_WINDOW 1, TEMP_HYSTERESIS 3. */
export const HOTEND_WAIT: WaitRules = { residencySeconds: 10, window: 1, hysteresis: 3 };
/** TEMP_BED_RESIDENCY_TIME 10, TEMP_BED_WINDOW 1, TEMP_BED_HYSTERESIS 3. */
export const BED_WAIT: WaitRules = { residencySeconds: 10, window: 1, hysteresis: 3 };

// MIN_COOLING_SLOPE_TIME / MIN_COOLING_SLOPE_DEG: a cooling wait gives up when the temperature
// drops less than this much in this long (it would never get there).
const COOLING_SLOPE_SECONDS = 60;
const COOLING_SLOPE_DEGREES = 1.5;

/**
 * Marlin's `wait_for_hotend` / `wait_for_bed`: a temperature line with ` W:` every second,
 * residency once within the window, restart when outside the hysteresis, and M108 to break out.
 */
export class HeatWait implements Blocking {
  readonly busyReason = "heating";
  private nextLineAt: number;
  private residencyStart: number | undefined;
  private readonly wantsToCool: boolean;
  private readonly skip: boolean;
  private nextCoolCheckAt: number | undefined;
  private oldTemp = Infinity;

  /**
   * `heater` is the heater waited on; `tool` is the hotend whose line is printed;
   * `noWaitForCooling` is true for the S form (only waits when heating).
   */
  constructor(
    private readonly m: Machine,
    private readonly heater: number,
    private readonly tool: number,
    noWaitForCooling: boolean,
    private readonly rules: WaitRules,
    now: number,
  ) {
    const h = m.heaters.heaters[heater]!;
    this.wantsToCool = m.heaters.reading(heater) > h.target;
    this.skip = noWaitForCooling && this.wantsToCool;
    this.nextLineAt = now;
    m.waitForHeatup = true;
    m.feeding = false;
  }

  poll(now: number): boolean {
    if (this.skip || !this.m.waitForHeatup) return true;
    const m = this.m;
    if (now >= this.nextLineAt) {
      this.nextLineAt = now + 1000;
      m.print(
        m.personality.temperatures({
          bank: m.heaters,
          extruders: m.extruders,
          tool: this.tool,
          residency: this.residencyText(now),
          waitingOn: this.heater === m.bed ? "bed" : "hotend",
        }),
      );
    }
    const temp = m.heaters.reading(this.heater);
    const diff = Math.abs(m.heaters.heaters[this.heater]!.target - temp);
    if (this.residencyStart === undefined) {
      if (diff < this.rules.window) this.residencyStart = now;
    } else if (diff > this.rules.hysteresis) {
      this.residencyStart = now;
    }
    if (this.wantsToCool && (this.nextCoolCheckAt === undefined || now >= this.nextCoolCheckAt)) {
      if (this.oldTemp - temp < COOLING_SLOPE_DEGREES) return true;
      this.nextCoolCheckAt = now + m.wallMs(COOLING_SLOPE_SECONDS);
      this.oldTemp = temp;
    }
    return this.residencyStart !== undefined && now >= this.residencyEnd();
  }

  wakeAt(): number | undefined {
    if (this.skip) return undefined;
    let t = this.nextLineAt;
    const step = this.m.heaters.nextStepAt();
    if (step !== undefined) t = Math.min(t, step);
    if (this.residencyStart !== undefined) t = Math.min(t, this.residencyEnd());
    if (this.nextCoolCheckAt !== undefined) t = Math.min(t, this.nextCoolCheckAt);
    return t;
  }

  private residencyEnd(): number {
    return this.residencyStart! + this.m.wallMs(this.rules.residencySeconds);
  }

  // `?` until the residency timer runs, then whole simulated seconds left (Marlin truncates).
  private residencyText(now: number): string {
    if (this.residencyStart === undefined) return "?";
    const left = this.rules.residencySeconds - this.m.simSeconds(now - this.residencyStart);
    return String(Math.max(0, Math.trunc(left)));
  }
}

/** M0/M1 with the host prompt: waits until M108 or `M876 S<n>` releases it (Marlin `wait_for_user`). */
export class UserWait implements Blocking {
  readonly busyReason = "paused for user";

  constructor(private readonly m: Machine) {
    m.waitForUser = true;
    m.feeding = false;
  }

  poll(): boolean {
    return !this.m.waitForUser;
  }

  wakeAt(): number | undefined {
    return undefined;
  }
}

/** A fixed stretch of busy time (the `busyHeater` fault): keep-alives, no ok, then the command runs. */
export class TimedWait implements Blocking {
  readonly busyReason = "heating";

  constructor(private readonly until: number) {}

  poll(now: number): boolean {
    return now >= this.until;
  }

  wakeAt(): number | undefined {
    return this.until;
  }
}
