/**
 * Personalities of the virtual printer: how each firmware family words what it prints, and how
 * it behaves on the wire. What the host's quirks files say about a family (does it send `ok`
 * after a resend request, does it ack on receipt, does it check line numbers, does it send busy
 * keep-alives, does it mark duplicates) is read from the same profile here, so the simulation and
 * the engine share one body of knowledge; the literal texts follow protocol.md §3–§9.
 */
import type { MachineLimits } from "../analysis/limits.ts";
import type { Quirks } from "../protocol/quirks.ts";
import type { QuirksLibrary } from "../protocol/quirks-library.ts";
import type { HeaterBank } from "./heater.ts";
import { MACHINE, type Motion } from "./motion.ts";
import type { CardFile } from "./sdcard.ts";

export const PERSONALITIES = ["marlin2", "prusa", "repetier", "smoothie", "klipper"] as const;
export type PersonalityId = (typeof PERSONALITIES)[number];

/** Why the board (re)started; Marlin prints it right after `start`. */
export type ResetCause = "power-up" | "external" | "brown-out" | "watchdog" | "software";

/** Why a line was refused (protocol.md §1.5). */
export type RejectReason = "lineNumber" | "checksum" | "noChecksum";

/** What the firmware does after `kill()` (M112 or a fatal error). */
export type AfterKill = "silent" | "reboot" | "answers";

/** Which optional features the M115 reply reports. */
export interface Capabilities {
  extruders: number;
  emergencyParser: boolean;
  machineName: string;
}

/** What a temperature line shows: the heaters and, for heat-wait lines, the residency countdown. */
export interface TemperatureView {
  bank: HeaterBank;
  extruders: number;
  tool: number;
  /** `?` or whole seconds left; present on heat-wait lines only. */
  residency?: string;
  /** The heater waited on: Prusa's heat-wait lines differ for hotend and bed. */
  waitingOn?: "hotend" | "bed";
}

/** The words and wire behaviour of one firmware family. */
export interface Personality {
  readonly id: PersonalityId;
  /** The quirks profile the host should detect for this firmware. */
  readonly quirksId: string;
  /** From the profile: numbered lines are checked and resends requested. */
  readonly tracksLineNumbers: boolean;
  /** From the profile: an `ok` follows a resend request. */
  readonly okAfterResend: boolean;
  /** From the profile: `ok` is sent when a line is accepted, before it runs (Repetier). */
  readonly ackOnReceipt: boolean;
  /** From the profile: `busy:` keep-alives while a command blocks. */
  readonly busyLines: boolean;
  /** From the profile: duplicates are answered `skip <n>` + `ok` instead of silence. */
  readonly marksDuplicates: boolean;
  /** From the profile: lines matching these are console commands that get no `ok`. */
  readonly consoleLines: RegExp[];
  /** From the profile: characters of a line kept (Marlin MAX_CMD_SIZE less its terminator); the rest is cut. 0 = no limit. */
  readonly maxLineLength: number;
  /** Empty and comment-only lines are acked (Smoothie). */
  readonly emptyLinesAcked: boolean;
  /** ADVANCED_OK (`ok N.. P.. B..`) is possible on this firmware. */
  readonly advancedOk: boolean;
  /** Lines read ahead of execution (Marlin BUFSIZE 4, Klipper 20). */
  readonly commandBuffer: number;
  /** The M115 reply comes inside the `ok` (Klipper). */
  readonly m115InOk: boolean;
  /** `//action:` lines are sent (HOST_ACTION_COMMANDS) and the prompt protocol works. */
  readonly hostActions: boolean;
  /** Acts on emergency commands as the bytes arrive: Marlin's EMERGENCY_PARSER, or M112 only (Klipper). */
  readonly emergencyParser: boolean | "M112";
  /** Prints `wait` every second while idle with nothing received (Repetier, §2.3). */
  readonly idleWait: boolean;
  readonly afterKill: AfterKill;
  banner(cause: ResetCause, plannerBlocks: number): string[];
  m115(c: Capabilities): string[];
  reject(reason: RejectReason, lastN: number): string[];
  duplicate(n: number): string[];
  ok(n: number | undefined, plannerFree: number, bufferFree: number, advanced: boolean): string;
  busy(reason: "processing" | "heating" | "paused for user"): string;
  temperatures(v: TemperatureView): string;
  /** The reply to M105 (including its ok unless the firmware acks on receipt). */
  m105(v: TemperatureView): string[];
  position(motion: Motion, withCount: boolean): string;
  /** The whole M114 reply, its ok included when the firmware puts the position in it (Smoothie). */
  m114(motion: Motion): { lines: string[]; ownOk: boolean };
  unknown(text: string): string[];
  /** An extended (non-G/M/T) command such as Klipper's STATUS; undefined when unknown. */
  extended(text: string, state: { shutdown: boolean }): string[] | undefined;
  kill(reason: "M112"): string[];
  /** The answer to a command (its word, e.g. `G28`) while halted (`answers` firmware), and whether an ok follows it. */
  whileHalted(word: string): { lines: string[]; acked: boolean };
  /** From the profile: commands that end a halt (Klipper FIRMWARE_RESTART, RESTART; M999). */
  readonly restartCommands: string[];
  /** A line announcing a new target (Repetier `TargetExtr0:210`), or undefined. */
  targetLine(heater: number | "bed", celsius: number): string | undefined;
  /** From the profile: which object labels the firmware acts on (`M486`, `EXCLUDE_OBJECT`), "" none. */
  readonly objectLabels: Quirks["cancelObject"]["labels"];
  /** The answer to a move refused because these axes (X, Y, Z) are not all homed. */
  homeFirst(homed: readonly boolean[]): string[];
  /** The M503 settings report (the machine limits in it are the ones moves obey); undefined: no M503. */
  m503?(limits: MachineLimits): string[];
  sd: SdDialect;
}

/** The SD card replies of one family (protocol.md §4.3–§4.4). */
export interface SdDialect {
  cardOk(): string[];
  noCard(): string[];
  /** The M20 listing; `long`/`timestamps` are the `L`/`T` flags. */
  list(files: CardFile[], long: boolean, timestamps: boolean): string[];
  opened(f: CardFile): string[];
  openFailed(name: string): string[];
  printing(pos: number, size: number): string;
  paused(pos: number, size: number): string;
  notPrinting(): string;
  done(): string[];
  writing(name: string): string[];
  saved(): string[];
  deleted(name: string): string[];
  deleteFailed(name: string): string[];
  /** Upload and delete are refused (Klipper's virtual SD card). */
  readonly readOnly: boolean;
}

/** The version this firmware claims (a Marlin 2.1.2.x release, as hosts expect). */
export const MARLIN_VERSION = "2.1.2.4";
const BUILD_DATE = "Jun 11 2024";

// Marlin's language.h strings: PowerUp has no leading space, the others do.
const RESET_TEXT: Record<ResetCause, string> = {
  "power-up": "PowerUp",
  external: " External Reset",
  "brown-out": " Brown out Reset",
  watchdog: " Watchdog Reset",
  software: " Software Reset",
};

const REJECT_TEXT: Record<RejectReason, string> = {
  lineNumber: "Line Number is not Last Line Number+1",
  checksum: "checksum mismatch",
  noChecksum: "No Checksum with line number",
};

/** Marlin 2.1's Cap list in its order. */
function marlinCaps(c: Capabilities): [string, boolean][] {
  return [
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
    ["SD_WRITE", true],
    ["AUTOREPORT_SD_STATUS", true],
    ["LONG_FILENAME", true],
    ["LFN_WRITE", true],
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
}

/**
 * Marlin's `print_heater_states`: ` T:… /… B:… /… [T0:… /… T1:… /…] @:… B@:… [@0:… @1:…]`, with
 * a leading space (M105 prefixes `ok`, auto-reports print it as is).
 */
function marlinTemperatures(v: TemperatureView, decimals = 2): string {
  const { bank, extruders, tool } = v;
  const bed = extruders;
  const t = (i: number) => `${bank.reading(i).toFixed(decimals)} /${bank.heaters[i]!.target.toFixed(decimals)}`;
  let s = ` T:${t(tool)} B:${t(bed)}`;
  if (extruders > 1) for (let e = 0; e < extruders; e++) s += ` T${e}:${t(e)}`;
  s += ` @:${bank.power127(tool)} B@:${bank.power127(bed)}`;
  if (extruders > 1) for (let e = 0; e < extruders; e++) s += ` @${e}:${bank.power127(e)}`;
  if (v.residency !== undefined) s += ` W:${v.residency}`;
  return s;
}

function axes(motion: Motion, decimals: number): string {
  const p = motion.logical();
  return `X:${p[0].toFixed(decimals)} Y:${p[1].toFixed(decimals)} Z:${p[2].toFixed(decimals)} E:${p[3].toFixed(decimals)}`;
}

/** `X:… Y:… Z:… E:…`, optionally with Marlin's ` Count X:… Y:… Z:…` stepper part (M114, G28). */
export function marlinPosition(motion: Motion, withCount: boolean): string {
  const s = axes(motion, 2);
  if (!withCount) return s;
  const c = motion.steps();
  return `${s} Count X:${c[0]} Y:${c[1]} Z:${c[2]}`;
}

const marlinSd: SdDialect = {
  readOnly: false,
  cardOk: () => ["echo:SD card ok"],
  noCard: () => ["echo:No SD card"],
  list: (files, long, timestamps) => [
    "Begin file list",
    ...files.map((f) => {
      let s = `${f.short} ${f.content.length}`;
      if (timestamps) s += ` 0x${f.fatTime.toString(16)}`;
      if (long) s += ` ${f.long}`;
      return s;
    }),
    "End file list",
  ],
  opened: (f) => [`echo:Now fresh file: ${f.short}`, `File opened: ${f.short} Size: ${f.content.length}`, "File selected"],
  openFailed: (name) => [`echo:Now fresh file: ${name}`, `open failed, File: ${name}.`],
  printing: (pos, size) => `SD printing byte ${pos}/${size}`,
  paused: (pos, size) => `SD printing byte ${pos}/${size}`,
  notPrinting: () => "Not SD printing",
  done: () => ["Done printing file"],
  writing: (name) => [`echo:Now fresh file: ${name}`, `Writing to file: ${name}`],
  saved: () => ["Done saving file."],
  deleted: (name) => [`File deleted:${name}`],
  deleteFailed: (name) => [`Deletion failed, File: ${name}.`],
};

const f2 = (x: number) => x.toFixed(2);
const axes4 = (a: { x: number; y: number; z: number; e: number }, format: (x: number) => string = f2) => `X${format(a.x)} Y${format(a.y)} Z${format(a.z)} E${format(a.e)}`;
const steps = () => `M92 ${axes4({ x: MACHINE.stepsPerMm[0], y: MACHINE.stepsPerMm[1], z: MACHINE.stepsPerMm[2], e: MACHINE.stepsPerMm[3] })}`;

/** Marlin 2.1's M503 (settings.cpp `report_*`: a `; heading` line, then the command, with `echo:`). */
function marlinM503(l: MachineLimits): string[] {
  const jerk = l.junctionDeviation > 0 ? `J${f2(l.junctionDeviation)}` : `X${f2(l.maxJerk.x)} Y${f2(l.maxJerk.y)} Z${f2(l.maxJerk.z)} E${f2(l.maxJerk.e)}`;
  const junction = l.junctionDeviation > 0 ? "J<junc_dev>" : "X<max_jerk> Y<max_jerk> Z<max_jerk> E<max_jerk>";
  return [
    "echo:; Linear Units:",
    "echo:  G21 ; (mm)",
    "echo:; Temperature Units:",
    "echo:  M149 C ; Units in Celsius",
    "echo:; Steps per unit:",
    `echo:  ${steps()}`,
    "echo:; Max feedrates (units/s):",
    `echo:  M203 ${axes4(l.maxFeedrate)}`,
    "echo:; Max Acceleration (units/s2):",
    `echo:  M201 ${axes4(l.maxAcceleration)}`,
    "echo:; Acceleration (units/s2) (P<print-accel> R<retract-accel> T<travel-accel>):",
    `echo:  M204 P${f2(l.printAcceleration)} R${f2(l.retractAcceleration)} T${f2(l.travelAcceleration)}`,
    `echo:; Advanced (B<min_segment_time_us> S<min_feedrate> T<min_travel_feedrate> ${junction}):`,
    `echo:  M205 B20000.00 S${f2(l.minExtrudingRate)} T${f2(l.minTravelRate)} ${jerk}`,
  ];
}

/**
 * Prusa-Firmware 3.x's M503 (ConfigurationStore.cpp `Config_PrintSettings`): the feed rates and
 * accelerations of the normal mode, then of the silent ("stealth") mode, which the virtual MK3S
 * is not in (its silent set is Prusa's slower default).
 */
function prusaM503(l: MachineLimits): string[] {
  const int = (x: number) => String(Math.round(x));
  const quiet = { ...l.maxAcceleration, x: Math.min(l.maxAcceleration.x, 960), y: Math.min(l.maxAcceleration.y, 960) };
  return [
    "echo:Steps per unit:",
    `echo:  ${steps()}`,
    "echo:Maximum feedrates - normal (mm/s):",
    `echo:  M203 ${axes4(l.maxFeedrate)}`,
    "echo:Maximum feedrates - stealth (mm/s):",
    `echo:  M203 ${axes4({ ...l.maxFeedrate, x: Math.min(l.maxFeedrate.x, 172), y: Math.min(l.maxFeedrate.y, 172) })}`,
    "echo:Maximum acceleration - normal (mm/s2):",
    `echo:  M201 ${axes4(l.maxAcceleration, int)}`,
    "echo:Maximum acceleration - stealth (mm/s2):",
    `echo:  M201 ${axes4(quiet, int)}`,
    "echo:Acceleration: P=print, R=retract, T=travel",
    `echo:  M204 P${f2(l.printAcceleration)} R${f2(l.retractAcceleration)} T${f2(l.travelAcceleration)}`,
    "echo:Advanced variables: S=Min feedrate (mm/s), T=Min travel feedrate (mm/s), B=minimum segment time (us), X=maximum XY jerk (mm/s),  Z=maximum Z jerk (mm/s),  E=maximum E jerk (mm/s)",
    `echo:  M205 S${f2(l.minExtrudingRate)} T${f2(l.minTravelRate)} B20000 X${f2(l.maxJerk.x)} Y${f2(l.maxJerk.y)} Z${f2(l.maxJerk.z)} E${f2(l.maxJerk.e)}`,
  ];
}

/** Marlin 2.1: the reference the others are told apart from. */
function marlin(q: Quirks): Personality {
  return {
    id: "marlin2",
    quirksId: q.id,
    ...fromQuirks(q),
    emptyLinesAcked: false,
    advancedOk: true,
    commandBuffer: 4,
    m115InOk: false,
    hostActions: true,
    emergencyParser: true,
    idleWait: false,
    afterKill: "silent",
    banner: (cause, plannerBlocks) => [
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
    ],
    m115: (c) => [
      `FIRMWARE_NAME:Marlin ${MARLIN_VERSION} (${BUILD_DATE} 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin ` +
        `PROTOCOL_VERSION:1.0 MACHINE_TYPE:${c.machineName} EXTRUDER_COUNT:${c.extruders} ` +
        "UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff",
      ...marlinCaps(c).map(([name, on]) => `Cap:${name}:${on ? 1 : 0}`),
    ],
    reject: (reason, lastN) => [`Error:${REJECT_TEXT[reason]}, Last Line: ${lastN}`, `Resend: ${lastN + 1}`],
    duplicate: () => [],
    ok: (n, p, b, advanced) => (advanced ? `ok${n === undefined ? "" : ` N${n}`} P${p} B${b}` : "ok"),
    busy: (reason) => `echo:busy: ${reason === "heating" ? "processing" : reason}`,
    temperatures: (v) => marlinTemperatures(v),
    m105: (v) => [`ok${marlinTemperatures(v)}`],
    position: marlinPosition,
    m114: (motion) => ({ lines: [marlinPosition(motion, true)], ownOk: false }),
    unknown: (text) => [`echo:Unknown command: "${text}"`],
    extended: () => undefined,
    kill: () => ["echo:M112 Shutdown", "Error:Printer halted. kill() called!", "//action:poweroff"],
    whileHalted: () => ({ lines: [], acked: false }),
    targetLine: () => undefined,
    // Marlin's MSG_HOME_FIRST with the axes still to home.
    homeFirst: (homed) => [`echo:Home ${["X", "Y", "Z"].filter((_, i) => !homed[i]).join("")} First`],
    m503: marlinM503,
    sd: marlinSd,
  };
}

/** Prusa-Firmware 3.x on an MK3S: Marlin's words with Prusa's temperatures, listing and reboot. */
function prusa(q: Quirks): Personality {
  const base = marlin(q);
  const temps = (v: TemperatureView) => {
    const { bank, extruders, tool } = v;
    if (v.residency !== undefined) {
      // Heat-wait lines carry no target (§4.1): `T:195.3 E:0 W:?` and `T:21.84 E:0 B:23.0`.
      const t = `T:${bank.reading(tool).toFixed(1)} E:${tool}`;
      return v.waitingOn === "bed" ? `${t} B:${bank.reading(extruders).toFixed(1)}` : `${t} W:${v.residency}`;
    }
    const r = (i: number) => `${bank.reading(i).toFixed(1)} /${bank.heaters[i]!.target.toFixed(1)}`;
    return `T:${r(tool)} B:${r(extruders)} T0:${r(0)} @:${bank.power127(tool)} B@:${bank.power127(extruders)} P:${(bank.reading(extruders) - 2).toFixed(1)} A:26.4`;
  };
  return {
    ...base,
    id: "prusa",
    advancedOk: false,
    emergencyParser: false,
    afterKill: "reboot",
    banner: (cause, plannerBlocks) => base.banner(cause, plannerBlocks).map((l) => (l.startsWith("Marlin ") ? "Prusa-Firmware 3.13.3" : l)),
    m115: (c) => [
      "FIRMWARE_NAME:Prusa-Firmware 3.13.3+7094 based on Marlin FIRMWARE_URL:https://github.com/prusa3d/Prusa-Firmware " +
        `PROTOCOL_VERSION:1.0 MACHINE_TYPE:Prusa i3 MK3S EXTRUDER_COUNT:${c.extruders} UUID:00000000-0000-0000-0000-000000000000`,
      "Cap:AUTOREPORT_TEMP:1",
      "Cap:AUTOREPORT_FANS:1",
      "Cap:AUTOREPORT_POSITION:1",
      "Cap:EXTENDED_M20:1",
      "Cap:PRUSA_MMU2:0",
    ],
    temperatures: temps,
    m105: (v) => [`ok ${temps(v)}`],
    m503: prusaM503,
    kill: () => ["Error:Printer halted. kill() called!", "M112 called. Emergency Stop."],
    sd: {
      ...marlinSd,
      list: (files, long, timestamps) => [
        "Begin file list",
        ...files.map((f) => {
          let s = `${f.short} ${f.content.length}`;
          if (timestamps) s += ` 0x${f.fatTime.toString(16)}`;
          if (long) s += ` "${f.long}"`;
          return s;
        }),
        "End file list",
      ],
    },
  };
}

/** Repetier-Firmware 1.0: acks on receipt with the line number, `wait` when idle, `skip` for duplicates. */
function repetier(q: Quirks): Personality {
  const temps = (v: TemperatureView) => {
    const { bank, extruders, tool } = v;
    const r = (i: number) => `${bank.reading(i).toFixed(2)} /${Math.round(bank.heaters[i]!.target)}`;
    let s = `T:${r(tool)} B:${r(extruders)} B@:${bank.power127(extruders) * 2} @:${bank.power127(tool) * 2}`;
    if (extruders > 1) for (let e = 0; e < extruders; e++) s += ` T${e}:${r(e)} @${e}:${bank.power127(e) * 2}`;
    return s;
  };
  return {
    ...marlin(q),
    id: "repetier",
    // No Marlin-style settings report: the host does not ask (its quirks have no limits query).
    m503: undefined,
    advancedOk: false,
    hostActions: false,
    emergencyParser: false,
    idleWait: true,
    afterKill: "reboot",
    banner: () => ["start", "Info:Repetier-Firmware 1.0.4 (virtual)", "Free RAM:4186", "Card successfully initialized."],
    m115: (c) => [
      `FIRMWARE_NAME:Repetier_1.0.4 COMPILED:${BUILD_DATE} FIRMWARE_URL:https://github.com/repetier/Repetier-Firmware/ ` +
        `PROTOCOL_VERSION:1.0 MACHINE_TYPE:${c.machineName} EXTRUDER_COUNT:${c.extruders} REPETIER_PROTOCOL:3`,
      "Cap:PROGRESS:0",
      "Cap:AUTOREPORT_TEMP:1",
      "Cap:HOST_RESCUE:0",
      "Cap:EEPROM:0",
      "Cap:AUTOLEVEL:0",
      "Cap:Z_PROBE:0",
      "Cap:SOFTWARE_POWER:0",
      "Cap:TOGGLE_LIGHTS:0",
      "Cap:PAUSESTOP:1",
      "Cap:PREHEAT:1",
      "Cap:EMERGENCY_PARSER:0",
    ],
    reject: (_reason, lastN) => ["", `Resend:${lastN + 1}`],
    duplicate: (n) => [`skip ${n}`, "ok"],
    ok: (n) => (n === undefined ? "ok" : `ok ${n}`),
    busy: (reason) => `busy:${reason === "paused for user" ? "paused for user interaction" : reason}`,
    temperatures: temps,
    // Acked on receipt: the report comes later, on its own line (§2.2).
    m105: (v) => [temps(v)],
    position: (motion) => `X:${motion.logical()[0].toFixed(2)} Y:${motion.logical()[1].toFixed(2)} Z:${motion.logical()[2].toFixed(3)} E:${motion.logical()[3].toFixed(4)}`,
    m114: (motion) => ({ lines: [`X:${motion.logical()[0].toFixed(2)} Y:${motion.logical()[1].toFixed(2)} Z:${motion.logical()[2].toFixed(3)} E:${motion.logical()[3].toFixed(4)}`], ownOk: false }),
    unknown: (text) => [`Unknown command:${text}`],
    kill: () => ["Error:Printer halted. kill() called!"],
    targetLine: (heater, celsius) => (heater === "bed" ? `TargetBed:${Math.round(celsius)}` : `TargetExtr${heater}:${Math.round(celsius)}`),
    sd: {
      ...marlinSd,
      cardOk: () => ["Card successfully initialized."],
      noCard: () => ["SD init fail"],
      list: (files) => ["Begin file list", ...files.map((f) => `${f.short} ${f.content.length}`), "End file list"],
      opened: (f) => [`File opened:${f.short} Size:${f.content.length}`, "File selected"],
      openFailed: () => ["file.open failed"],
      writing: (name) => [`Writing to file: ${name}`],
    },
  };
}

/** Smoothieware: `rs N<n>` without ok, console commands in lower case, `@` without colon. */
function smoothie(q: Quirks): Personality {
  const temps = (v: TemperatureView) => {
    const { bank, extruders, tool } = v;
    const r = (i: number) => `${bank.reading(i).toFixed(1)} /${bank.heaters[i]!.target.toFixed(1)} @${bank.power127(i) * 2}`;
    let s = `T:${r(tool)}`;
    for (let e = 1; e < extruders; e++) s += ` T${e}:${r(e)}`;
    return `${s} B:${r(extruders)}`;
  };
  const position = (motion: Motion) => axes(motion, 4);
  return {
    ...marlin(q),
    id: "smoothie",
    // No Marlin-style settings report: the host does not ask (its quirks have no limits query).
    m503: undefined,
    emptyLinesAcked: true,
    advancedOk: false,
    hostActions: false,
    emergencyParser: false,
    afterKill: "answers",
    banner: () => ["Smoothie Running @120MHz"],
    m115: () => [
      "FIRMWARE_NAME:Smoothieware, FIRMWARE_URL:http%3A//smoothieware.org, X-SOURCE_CODE_URL:https://github.com/Smoothieware/Smoothieware, " +
        `FIRMWARE_VERSION:edge-layerline, PROTOCOL_VERSION:1.0, X-FIRMWARE_BUILD_DATE:${BUILD_DATE} 12:00:00, X-SYSTEM_CLOCK:120MHz, X-AXES:5, X-GRBL_MODE:0, X-ARCS:1`,
    ],
    reject: (_reason, lastN) => [`rs N${lastN + 1}`],
    duplicate: (n) => [`rs N${n + 1}`],
    ok: () => "ok",
    temperatures: temps,
    m105: (v) => [`ok ${temps(v)}`],
    position: (motion) => position(motion),
    m114: (motion) => ({ lines: [`ok C: ${position(motion)}`], ownOk: true }),
    unknown: () => [],
    extended: (text) => (text.startsWith("version") ? [`Build version: edge-layerline, Build date: ${BUILD_DATE}, MCU: LPC1769, System Clock: 120MHz`] : [`error:Unsupported command - ${text}`]),
    kill: () => ["ok Emergency Stop Requested - reset or M999 required to exit HALT state"],
    whileHalted: () => ({ lines: ["!!"], acked: false }),
    sd: {
      ...marlinSd,
      cardOk: () => ["SD card ok"],
      noCard: () => ["SD card not found"],
      list: (files) => ["Begin file list", ...files.map((f) => f.long.toLowerCase()), "End file list"],
      opened: (f) => [`File opened:/sd/${f.long} Size:${f.content.length}`, "File selected"],
      openFailed: (name) => [`file.open failed: /sd/${name}`],
      paused: (pos, size) => `SD print is paused at ${pos}/${size}`,
      notPrinting: () => "Not currently playing",
      writing: (name) => [`Writing to file: /sd/${name}`],
      deleted: (name) => [`File deleted:/sd/${name}`],
    },
  };
}

/** Klipper on its pseudo-tty: no line numbers, M115 inside the ok, `//` and `!!` lines, reads ahead. */
function klipper(q: Quirks): Personality {
  const temps = (v: TemperatureView) => {
    const { bank, extruders } = v;
    const r = (i: number) => `${bank.reading(i).toFixed(1)} /${bank.heaters[i]!.target.toFixed(1)}`;
    let s = `B:${r(extruders)}`;
    for (let e = 0; e < extruders; e++) s += ` T${e}:${r(e)}`;
    return s;
  };
  const shutdown = "Shutdown due to M112 command";
  return {
    ...marlin(q),
    id: "klipper",
    // No Marlin-style settings report: the host does not ask (its quirks have no limits query).
    m503: undefined,
    advancedOk: false,
    emergencyParser: "M112",
    commandBuffer: 20,
    m115InOk: true,
    afterKill: "answers",
    banner: () => [],
    m115: () => ["ok FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.12.0-layerline"],
    reject: () => [],
    duplicate: () => [],
    ok: () => "ok",
    temperatures: temps,
    m105: (v) => [`ok ${temps(v)}`],
    position: (motion) => axes(motion, 3),
    m114: (motion) => ({ lines: [axes(motion, 3)], ownOk: false }),
    unknown: (text) => [`// Unknown command:"${text.split(" ")[0]!.toUpperCase()}"`],
    extended: (text, state) => {
      const word = text.split(" ")[0]!.toUpperCase();
      if (word === "STATUS") return [`// Klipper state: ${state.shutdown ? "Shutdown" : "Ready"}`];
      // With `[exclude_object]` in printer.cfg: labels are taken silently.
      if (word.startsWith("EXCLUDE_OBJECT")) return [];
      if (word === "FIRMWARE_RESTART" || word === "RESTART") {
        state.shutdown = false;
        return ["// Klipper state: Ready"];
      }
      return undefined;
    },
    kill: () => ["// Klipper state: Shutdown"],
    homeFirst: () => ["!! Must home axis first"],
    // Not ready, Klipper answers M105 with a bare `ok T:0` (no real reading) and takes M21 silently (gcode.py cmd_default).
    whileHalted: (word) =>
      word === "M105" ? { lines: ["ok T:0"], acked: false } : word === "M21" ? { lines: [], acked: true } : { lines: [`// ${shutdown}`, `!! ${shutdown}`], acked: true },
    busy: (reason) => `// ${reason}`,
    sd: {
      ...marlinSd,
      readOnly: true,
      cardOk: () => [],
      list: (files) => ["Begin file list", ...files.map((f) => `${f.long} ${f.content.length}`), "End file list"],
      opened: (f) => [`File opened:${f.long} Size:${f.content.length}`, "File selected"],
      openFailed: () => ["!! Unable to open file"],
      notPrinting: () => "Not SD printing.",
    },
  };
}

/** The behaviour flags a family's quirks profile states (the part the host and the simulation share). */
function fromQuirks(q: Quirks) {
  return {
    tracksLineNumbers: q.lineNumbers.tracked,
    okAfterResend: q.ack.okAfterResend !== "never",
    ackOnReceipt: q.ack.timing === "onReceipt",
    busyLines: q.busy.patterns.length > 0,
    marksDuplicates: q.resend.duplicate.length > 0,
    consoleLines: q.ack.unacked.map((p) => new RegExp(p)),
    maxLineLength: q.commands.maxLineLength,
    restartCommands: q.errors.restartCommands,
    objectLabels: q.cancelObject.labels,
  };
}

const MAKERS: Record<PersonalityId, [quirksId: string, make: (q: Quirks) => Personality]> = {
  marlin2: ["marlin2", marlin],
  prusa: ["prusa", prusa],
  repetier: ["repetier", repetier],
  smoothie: ["smoothieware", smoothie],
  klipper: ["klipper", klipper],
};

/** The personality `id`, its behaviour flags taken from the library's profile for that family. */
export function personality(id: PersonalityId, library: QuirksLibrary): Personality {
  const [quirksId, make] = MAKERS[id];
  const p = make(library.get(quirksId));
  // The Marlin base spreads its own flags; every personality re-reads them from its own profile.
  return { ...p, ...fromQuirks(library.get(quirksId)), quirksId };
}
