/**
 * The literal text the virtual Marlin prints: boot banner, M115 reply with its `Cap:` lines,
 * temperature and position reports. Shapes follow protocol.md §3–§4 and the real Marlin 2.1
 * transcript in shared/data/serial-logs; only version strings and values are ours.
 */
import type { HeaterBank } from "./heater.ts";
import type { Motion } from "./motion.ts";

/** The version this firmware claims (a Marlin 2.1.2.x release, as hosts expect). */
export const MARLIN_VERSION = "2.1.2.4";
const BUILD_DATE = "Jun 11 2024";

/** Why the board (re)started; Marlin prints it right after `start`. */
export type ResetCause = "power-up" | "external" | "brown-out" | "watchdog" | "software";

// Marlin's language.h strings: PowerUp has no leading space, the others do.
const RESET_TEXT: Record<ResetCause, string> = {
  "power-up": "PowerUp",
  external: " External Reset",
  "brown-out": " Brown out Reset",
  watchdog: " Watchdog Reset",
  software: " Software Reset",
};

/** The lines Marlin prints from `setup()`. Example: `bootBanner("power-up")[0] === "start"`. */
export function bootBanner(cause: ResetCause, plannerBlocks: number): string[] {
  return [
    "start",
    RESET_TEXT[cause],
    `Marlin ${MARLIN_VERSION}`,
    "echo: Last Updated: 2024-06-11 | Author: (Layerline, virtual printer)",
    `echo: Compiled: ${BUILD_DATE}`,
    // 80 bytes per block on a 32-bit board.
    `echo: Free Memory: 41823  PlannerBufferBytes: ${plannerBlocks * 80}`,
    "echo:No EEPROM.",
    "echo:Hardcoded Default Settings Loaded",
    "echo:SD card ok",
  ];
}

/** Which optional features this firmware reports, as they change the Cap list. */
export interface Capabilities {
  extruders: number;
  emergencyParser: boolean;
  machineName: string;
}

/** The M115 reply without the final `ok`: FIRMWARE_NAME line, then Marlin 2.1's Cap list in its order. */
export function firmwareInfo(c: Capabilities): string[] {
  const caps: [string, boolean][] = [
    ["SERIAL_XON_XOFF", false],
    ["BINARY_FILE_TRANSFER", false],
    ["EEPROM", false],
    ["VOLUMETRIC", true],
    ["AUTOREPORT_POS", true],
    ["AUTOREPORT_TEMP", true],
    ["PROGRESS", false],
    ["PRINT_JOB", true],
    ["AUTOLEVEL", false],
    ["RUNOUT", false],
    ["Z_PROBE", false],
    ["LEVELING_DATA", false],
    ["BUILD_PERCENT", false],
    ["SOFTWARE_POWER", false],
    ["TOGGLE_LIGHTS", false],
    ["CASE_LIGHT_BRIGHTNESS", false],
    ["EMERGENCY_PARSER", c.emergencyParser],
    ["HOST_ACTION_COMMANDS", true],
    ["PROMPT_SUPPORT", true],
    ["SDCARD", true],
    ["MULTI_VOLUME", false],
    ["REPEAT", false],
    ["SD_WRITE", false],
    ["AUTOREPORT_SD_STATUS", true],
    ["LONG_FILENAME", false],
    ["LFN_WRITE", false],
    ["CUSTOM_FIRMWARE_UPLOAD", false],
    ["EXTENDED_M20", true],
    ["THERMAL_PROTECTION", true],
    ["MOTION_MODES", false],
    ["ARCS", true],
    ["BABYSTEPPING", false],
    ["CHAMBER_TEMPERATURE", false],
    ["COOLER_TEMPERATURE", false],
    ["MEATPACK", false],
    ["CONFIG_EXPORT", false],
  ];
  return [
    `FIRMWARE_NAME:Marlin ${MARLIN_VERSION} (${BUILD_DATE} 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin ` +
      `PROTOCOL_VERSION:1.0 MACHINE_TYPE:${c.machineName} EXTRUDER_COUNT:${c.extruders} ` +
      "UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff",
    ...caps.map(([name, on]) => `Cap:${name}:${on ? 1 : 0}`),
  ];
}

/**
 * Marlin's `print_heater_states`: ` T:… /… B:… /… [T0:… /… T1:… /…] @:… B@:… [@0:… @1:…]`,
 * with a leading space (M105 prefixes `ok`, autoreports print it as is). Heater index `e` is
 * hotend `e`; the bed is the last heater of the bank.
 */
export function temperatureReport(bank: HeaterBank, extruders: number, tool: number): string {
  const bed = extruders;
  const t = (i: number) => `${bank.reading(i).toFixed(2)} /${bank.heaters[i]!.target.toFixed(2)}`;
  let s = ` T:${t(tool)} B:${t(bed)}`;
  if (extruders > 1) for (let e = 0; e < extruders; e++) s += ` T${e}:${t(e)}`;
  s += ` @:${bank.power127(tool)} B@:${bank.power127(bed)}`;
  if (extruders > 1) for (let e = 0; e < extruders; e++) s += ` @${e}:${bank.power127(e)}`;
  return s;
}

/** `X:… Y:… Z:… E:…`, optionally with Marlin's ` Count X:… Y:… Z:…` stepper part (M114, G28). */
export function positionReport(motion: Motion, withCount: boolean): string {
  const p = motion.logical();
  const s = `X:${p[0].toFixed(2)} Y:${p[1].toFixed(2)} Z:${p[2].toFixed(2)} E:${p[3].toFixed(2)}`;
  if (!withCount) return s;
  const c = motion.steps();
  return `${s} Count X:${c[0]} Y:${c[1]} Z:${c[2]}`;
}
