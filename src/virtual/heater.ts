/**
 * Heater physics for the virtual printer: heating power against a loss toward ambient, a simple
 * controller that holds the target, and a bank that steps all heaters on a fixed grid of
 * simulated time so results do not depend on how often the shell wakes the firmware.
 */
import { hash01 } from "./random.ts";

/** Physical constants of one heater. */
export interface HeaterModel {
  /** Temperature rise per second at full power, °C/s, ignoring losses. */
  heatRate: number;
  /** Fraction of the excess over ambient lost per second, 1/s. */
  loss: number;
  /** Extra power fraction per °C of error inside the control band (proportional gain). */
  gain: number;
  /** Highest target accepted; Marlin clamps to MAXTEMP minus the overshoot margin. */
  maxTarget: number;
  /** Amplitude of the sensor noise, °C (uniform ±). */
  noise: number;
}

// Full power settles near 300 °C; 22 → 210 °C takes about 75 s, like a typical 40 W hotend.
/** A 40 W hotend: Marlin's HEATER_0_MAXTEMP 275 minus HOTEND_OVERSHOOT 15. */
export const HOTEND_MODEL: HeaterModel = { heatRate: 4.2, loss: 0.0151, gain: 0.08, maxTarget: 260, noise: 0.08 };
// Full power settles near 125 °C; 22 → 60 °C takes about 90 s, like a 220 mm 24 V bed.
/** A 24 V bed: Marlin's BED_MAXTEMP 150 minus BED_OVERSHOOT 10. */
export const BED_MODEL: HeaterModel = { heatRate: 0.58, loss: 0.0056, gain: 0.3, maxTarget: 140, noise: 0.04 };

// Outside this distance from the target the controller is plain on/off (Marlin PID_FUNCTIONAL_RANGE).
const BAND = 10;

/** One heater with its sensor. Temperatures in °C, power as a fraction 0…1. */
export class Heater {
  temperature: number;
  target = 0;
  power = 0;
  /** Extra loss factor, e.g. from the part-cooling fan blowing on the nozzle. */
  cooling = 0;

  constructor(
    readonly model: HeaterModel,
    ambient: number,
  ) {
    this.temperature = ambient;
  }

  /** Sets the target, clamped like Marlin (negative → 0, above the maximum → maximum). */
  setTarget(celsius: number): void {
    this.target = Math.min(Math.max(celsius, 0), this.model.maxTarget);
  }

  /** Integrates `dt` seconds of simulated time (explicit Euler; dt is small against the time constants). */
  step(dt: number, ambient: number): void {
    const m = this.model;
    const loss = m.loss * (1 + this.cooling);
    const error = this.target - this.temperature;
    let p: number;
    if (this.target <= 0 || error < -BAND) p = 0;
    else if (error > BAND) p = 1;
    else {
      // Feed-forward of the holding power plus a proportional term: no steady-state error.
      const hold = (loss * (this.target - ambient)) / m.heatRate;
      p = Math.min(1, Math.max(0, hold + m.gain * error));
    }
    this.power = p;
    this.temperature += (p * m.heatRate - loss * (this.temperature - ambient)) * dt;
  }

  /** Instant mode: jump to the target (or back to ambient when off). */
  settle(ambient: number): void {
    this.temperature = this.target > 0 ? this.target : ambient;
    this.power = this.target > 0 ? (this.model.loss * (1 + this.cooling) * (this.target - ambient)) / this.model.heatRate : 0;
    this.power = Math.min(1, Math.max(0, this.power));
  }

  /** Off and back at room temperature: stepping would change nothing measurable. */
  isAtRest(ambient: number): boolean {
    return this.target <= 0 && Math.abs(this.temperature - ambient) < 1e-3;
  }
}

/** Simulated seconds per physics step (Marlin samples its sensors at a similar rate). */
export const STEP_SECONDS = 0.1;

/**
 * All heaters of the printer, stepped together on the grid `t0 + k · step` (wall-clock ms).
 * In instant mode (`scale` not finite) there is no grid: heaters settle whenever a target changes.
 */
export class HeaterBank {
  private k = 0;
  private readonly stepWall: number;

  constructor(
    readonly heaters: Heater[],
    private readonly t0: number,
    readonly scale: number,
    private readonly seed: number,
    private readonly ambient: number,
  ) {
    this.stepWall = Number.isFinite(scale) ? (STEP_SECONDS * 1000) / scale : 0;
  }

  get instant(): boolean {
    return this.stepWall === 0;
  }

  /** Wall time of grid step `k`. */
  private stepTime(k: number): number {
    return this.t0 + k * this.stepWall;
  }

  /** Wall time of the next physics step, or undefined in instant mode. */
  nextStepAt(): number | undefined {
    return this.instant ? undefined : this.stepTime(this.k + 1);
  }

  /** Runs every grid step up to and including `now`. */
  advanceTo(now: number): void {
    if (this.instant) return;
    if (this.heaters.every((h) => h.isAtRest(this.ambient))) {
      // Nothing changes while everything is cold and off; skip ahead (long idle periods cost nothing).
      const last = Math.floor((now - this.t0) / this.stepWall);
      if (last > this.k) this.k = last;
      while (this.stepTime(this.k) > now) this.k--;
      return;
    }
    while (this.stepTime(this.k + 1) <= now) {
      this.k++;
      for (const h of this.heaters) h.step(STEP_SECONDS, this.ambient);
    }
  }

  /** Applies a new target (and, in instant mode, its effect). */
  setTarget(index: number, celsius: number): void {
    const h = this.heaters[index]!;
    h.setTarget(celsius);
    if (this.instant) h.settle(this.ambient);
  }

  /** What the sensor reads now: the physical value plus noise tied to the current step. */
  reading(index: number): number {
    const h = this.heaters[index]!;
    if (this.instant) return h.temperature;
    const n = h.model.noise;
    return h.temperature + (hash01(this.seed, index, this.k) * 2 - 1) * n;
  }

  /** Heater power as Marlin reports it after `@:` (soft-PWM amount, 0…127). */
  power127(index: number): number {
    return Math.round(this.heaters[index]!.power * 127);
  }
}
