/**
 * Raspberry Pi power checks, pure: the firmware's throttled flags (from sysfs or
 * `vcgencmd get_throttled`) decoded, and what they mean for a print. A machine that is no
 * Raspberry Pi has no such flags: the check does not apply.
 */
import { finding, type Finding } from "./finding.ts";

export interface PowerFacts {
  /** The Pi's model (/proc/device-tree/model), null on other machines. */
  model: string | null;
  /** The raw flags and where they were read; null when no source exists (not a Pi, or no vcgencmd). */
  throttled: { value: number; source: string } | null;
  /** Why the flags could not be read although a source exists (permission, a tool that failed). */
  error: string | null;
}

export interface ThrottleFlags {
  underVoltageNow: boolean;
  freqCappedNow: boolean;
  throttledNow: boolean;
  softTempLimitNow: boolean;
  underVoltageSinceBoot: boolean;
  freqCappedSinceBoot: boolean;
  throttledSinceBoot: boolean;
  softTempLimitSinceBoot: boolean;
}

/**
 * The bits of get_throttled: 0 under-voltage, 1 ARM frequency capped, 2 throttled, 3 soft
 * temperature limit — now; the same in bits 16–19 since boot.
 * Example: `decodeThrottled(0x50005)` → under-voltage now and since boot, throttled now and since boot.
 */
export function decodeThrottled(value: number): ThrottleFlags {
  const bit = (n: number) => (value & (1 << n)) !== 0;
  return {
    underVoltageNow: bit(0),
    freqCappedNow: bit(1),
    throttledNow: bit(2),
    softTempLimitNow: bit(3),
    underVoltageSinceBoot: bit(16),
    freqCappedSinceBoot: bit(17),
    throttledSinceBoot: bit(18),
    softTempLimitSinceBoot: bit(19),
  };
}

/** `throttled=0x50005` (vcgencmd) or `50005` (sysfs, hex without 0x) → the number; null when neither. */
export function parseThrottled(text: string): number | null {
  const m = /^(?:throttled=)?(?:0x)?([0-9a-f]+)$/i.exec(text.trim());
  return m ? parseInt(m[1]!, 16) : null;
}

const SUPPLY_FIX =
  "Use the official Raspberry Pi power supply (5.1 V, 3 A for a Pi 4, 5 A for a Pi 5) or one as good, with a short, thick cable; do not power the Pi from the printer's board or a USB port. Power the printer's USB side from the printer, not from the Pi, and remove other USB devices that draw power (cameras, drives) or give them a powered hub.";

export function powerFindings(f: PowerFacts): Finding[] {
  const title = "Power supply and throttling";
  if (!f.throttled) {
    if (f.error) return [finding("power.throttled", "power", "unknown", title, `${f.model ?? "This Raspberry Pi"}: the power flags could not be read (${f.error}).`)];
    if (f.model) return [finding("power.throttled", "power", "unknown", title, `${f.model}: the firmware's power flags are not available here (no /sys/devices/platform/soc/soc:firmware/get_throttled, no vcgencmd).`, "Install the Raspberry Pi tools to read them.", ["sudo apt-get install libraspberrypi-bin"])];
    return [finding("power.throttled", "power", "not-applicable", title, "This machine is not a Raspberry Pi; its firmware reports no under-voltage or throttling flags.")];
  }
  const b = decodeThrottled(f.throttled.value);
  const hex = `0x${f.throttled.value.toString(16)}`;
  const where = `(${f.model ?? "Raspberry Pi"}; flags ${hex} from ${f.throttled.source})`;
  const out: Finding[] = [];
  if (b.underVoltageNow) {
    out.push(finding("power.under-voltage", "power", "problem", "Under-voltage", `The supply voltage is too low right now ${where}. Under-voltage resets USB devices (the printer's connection drops mid-print), corrupts the SD card and slows the Pi down.`, SUPPLY_FIX));
  } else if (b.underVoltageSinceBoot) {
    out.push(finding("power.under-voltage", "power", "warning", "Under-voltage", `The supply voltage dropped too low since the last boot, though it is fine at the moment ${where}. Such dips reset USB devices (a printer connection dropping mid-print) and corrupt SD cards.`, SUPPLY_FIX));
  } else {
    out.push(finding("power.under-voltage", "power", "ok", "Under-voltage", `No under-voltage since the last boot ${where}.`));
  }
  const capped = b.throttledNow || b.freqCappedNow || b.softTempLimitNow;
  const cappedBefore = b.throttledSinceBoot || b.freqCappedSinceBoot || b.softTempLimitSinceBoot;
  const what = [b.throttledNow && "throttled", b.freqCappedNow && "its frequency is capped", b.softTempLimitNow && "at its soft temperature limit"].filter(Boolean).join(", ");
  if (capped) {
    out.push(finding("power.throttling", "power", "warning", "Throttling", `The CPU is slowed down right now: ${what} ${where}. ${b.underVoltageNow || b.underVoltageSinceBoot ? "Low voltage is the likely cause." : "Heat is the likely cause."}`, b.underVoltageNow || b.underVoltageSinceBoot ? SUPPLY_FIX : "Give the Pi a heatsink or a fan, and air around it (not in a closed box next to the heated bed)."));
  } else if (cappedBefore) {
    out.push(finding("power.throttling", "power", "warning", "Throttling", `The CPU was slowed down since the last boot (${[b.throttledSinceBoot && "throttled", b.freqCappedSinceBoot && "frequency capped", b.softTempLimitSinceBoot && "soft temperature limit"].filter(Boolean).join(", ")}), not at the moment ${where}.`, b.underVoltageSinceBoot ? SUPPLY_FIX : "Give the Pi a heatsink or a fan, and air around it."));
  } else {
    out.push(finding("power.throttling", "power", "ok", "Throttling", `The CPU has not been slowed down since the last boot ${where}.`));
  }
  return out;
}
