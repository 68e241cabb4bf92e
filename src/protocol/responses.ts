/**
 * Classification of one received line (protocol.md §11 step 2): resend → ack → wait → busy →
 * action → error → capability → firmware info → position → temperature → SD → everything else.
 * Pure: the quirks decide the patterns, the caller passes the active tool. The usual lines of a
 * print (`ok`, `ok N.. P.. B..`) are recognised from their first characters without a regex.
 */
import { isFirmwareLine, parseCapability, parseFirmwareLine, type FirmwareInfo } from "./firmware-info.ts";
import { looksLikePosition, parsePosition, type Position } from "./position.ts";
import { SD_PATTERN_KEYS, type Quirks, type SdPatternKey } from "./quirks.ts";
import type { SdMessage } from "./sd.ts";
import { looksLikeTemperature, parseTemperatures, undouble, type TemperatureReport } from "./temperature.ts";

/** How an error line affects the link and the job (design principle 6). */
export type ErrorClass = "fatal" | "halted" | "resendFollows" | "fakeOk" | "sd" | "ignore" | "error";

export type Received =
  | { kind: "ok"; lineNumber?: number; plannerFree?: number; bufferFree?: number; report?: Received }
  | { kind: "resend"; lineNumber: number }
  | { kind: "skip"; lineNumber: number }
  | { kind: "wait" }
  | { kind: "busy"; reason: string }
  | { kind: "start" }
  | { kind: "action"; name: string; params: string }
  | { kind: "error"; errorClass: ErrorClass; text: string }
  | { kind: "capability"; name: string; enabled: boolean }
  | { kind: "firmware"; info: FirmwareInfo }
  | { kind: "position"; position: Position }
  | { kind: "temperature"; report: TemperatureReport }
  | { kind: "target"; heater: string; target: number }
  | { kind: "sd"; message: SdMessage }
  | { kind: "text"; text: string };

/** Quirk patterns compiled once per profile. */
export interface Grammar {
  busy: RegExp[];
  errorPrefixes: string[];
  stateLines: RegExp[];
  errors: [ErrorClass, RegExp[]][];
  duplicate: RegExp[];
  doubled: RegExp[];
  targets: { heater: "tool" | "bed"; re: RegExp }[];
  heatWait: RegExp[];
  sd: [SdPatternKey, RegExp[]][];
  /** Send-side rules, compiled once too: the engine checks every command against them. */
  joinNext: RegExp[];
  neverSend: RegExp[];
  gluedOk: RegExp[];
  recovered: RegExp[];
  /** `commands.realtimeCharacters` as a global character class; undefined when there are none. */
  realtime: RegExp | undefined;
  /** `commands.skip` as one regex (tested on every command sent); undefined when there are none. */
  skip: RegExp | undefined;
  unacked: RegExp[];
  safety: { re: RegExp; message: string }[];
  longRunning: Set<string>;
  blocked: Set<string>;
  /**
   * What sending a command word changes (SD writing begins or ends, an action echo is due), by word.
   * A Map, because the words are strings made per line: comparing them with `===` in the serial
   * path deoptimised it at every such command (JavaScriptCore expects interned strings there).
   */
  sendEffects: Map<string, SendEffect>;
  /** Whether M110 may carry its `N` parameter (the family's hello has one; "CBD" firmware stalls on it). */
  m110Parameter: boolean;
  /** The probes of a link taken over (quirks `takeover.probes`): `answer` undefined where any ok answers it. */
  probes: { command: string; code: string; answer: RegExp | undefined }[];
}

export interface SendEffect {
  /** Writing to the SD card begins (true) or ends (false). */
  sdWriting?: boolean;
  /** The firmware echoes this command as the action of that name (`actions.echoes`). */
  echo?: string;
  /** The command sets the line number (M110): the host frames it with that number. */
  setsLineNumber?: boolean;
}

function sendEffects(quirks: Quirks): Map<string, SendEffect> {
  const effects = new Map<string, SendEffect>();
  const add = (code: string, effect: SendEffect) => effects.set(code, { ...effects.get(code), ...effect });
  for (const [code, name] of Object.entries(quirks.actions.echoes)) add(code, { echo: name });
  add(quirks.sd.endWriteCommand, { sdWriting: false });
  add(quirks.sd.beginWriteCommand, { sdWriting: true });
  add("M110", { setsLineNumber: true });
  return effects;
}

const compile = (list: string[]) => list.map((p) => new RegExp(p, "i"));

/** Compiles the patterns of a profile. */
export function compileGrammar(quirks: Quirks): Grammar {
  const e = quirks.errors;
  return {
    busy: compile(quirks.busy.patterns),
    errorPrefixes: e.prefixes,
    stateLines: compile(e.stateLines),
    // Order matters: a resend-related error is never fatal even if it says "stopped", and a
    // fatal error is fatal even if it also mentions something benign.
    errors: [
      ["resendFollows", compile(e.resendFollows)],
      ["fakeOk", compile(e.fakeOk)],
      ["fatal", compile(e.fatal)],
      ["halted", compile(e.halted)],
      ["sd", compile(e.sd)],
      ["ignore", compile(e.ignore)],
    ],
    duplicate: compile(quirks.resend.duplicate),
    doubled: compile(quirks.temperature.doubledWhen),
    targets: quirks.temperature.targetLines.map((t) => ({ heater: t.heater, re: new RegExp(t.pattern, "i") })),
    heatWait: compile(quirks.temperature.heatWait),
    sd: SD_PATTERN_KEYS.map((k) => [k, compile(quirks.sd[k])] as [SdPatternKey, RegExp[]]),
    joinNext: compile(e.joinNext),
    neverSend: compile(quirks.commands.neverSend),
    gluedOk: compile(quirks.ack.gluedOk),
    realtime: quirks.commands.realtimeCharacters ? new RegExp(`[${quirks.commands.realtimeCharacters.replace(/[\\\]^-]/g, "\\$&")}]`, "g") : undefined,
    recovered: compile(e.recovered),
    skip: quirks.commands.skip.length ? new RegExp(quirks.commands.skip.map((p) => `(?:${p})`).join("|"), "i") : undefined,
    // Console commands are told apart by case (Smoothie), so these are case-sensitive.
    unacked: quirks.ack.unacked.map((p) => new RegExp(p)),
    safety: quirks.safety.warnings.map((w) => ({ re: new RegExp(w.pattern, "i"), message: w.message })),
    longRunning: new Set(quirks.commands.longRunning),
    blocked: new Set(quirks.commands.blocked),
    sendEffects: sendEffects(quirks),
    m110Parameter: /\sN-?\d/i.test(quirks.handshake.hello),
    probes: quirks.takeover.probes.map((p) => ({ command: p.command, code: p.command.split(" ")[0]!.toUpperCase(), answer: p.answer ? new RegExp(p.answer, "i") : undefined })),
  };
}

/**
 * Classifies a line that has already had `\r` and NULs removed.
 * Example: `classify("Resend: 12", g, 0)` → `{ kind: "resend", lineNumber: 12 }`.
 */
export function classify(line: string, grammar: Grammar, currentTool: number): Received {
  const c0 = line.charCodeAt(0);
  if (c0 === 111 /* o */ && line.charCodeAt(1) === 107 /* k */ && (line.length === 2 || line.charCodeAt(2) === 32)) {
    return parseOk(line, grammar, currentTool);
  }
  if (c0 === 82 /* R */ || c0 === 114 /* r */) {
    const resend = parseResend(line);
    if (resend !== undefined) return { kind: "resend", lineNumber: resend };
  }
  for (const r of grammar.duplicate) {
    const m = r.exec(line);
    if (m) return { kind: "skip", lineNumber: Number(m.groups?.n ?? /\d+/.exec(line)?.[0] ?? -1) };
  }
  if (line === "wait") return { kind: "wait" };
  if (line === "start") return { kind: "start" };
  for (const r of grammar.busy) if (r.test(line)) return { kind: "busy", reason: busyReason(line) };
  const action = parseAction(line);
  if (action) return action;
  if (isErrorLine(line, grammar)) return { kind: "error", errorClass: classifyError(line, grammar), text: line };
  const cap = parseCapability(line);
  if (cap) return { kind: "capability", ...cap };
  if (isFirmwareLine(line)) return { kind: "firmware", info: parseFirmwareLine(line) };
  if (looksLikePosition(line)) {
    const position = parsePosition(line);
    if (position) return { kind: "position", position };
  }
  if (grammar.doubled.length && grammar.doubled.some((r) => r.test(line))) {
    const plain = undouble(line);
    if (plain !== line) return classify(plain, grammar, currentTool);
  }
  if (looksLikeTemperature(line)) {
    const report = parseTemperatures(line, currentTool);
    if (report) return { kind: "temperature", report };
  }
  for (const t of grammar.targets) {
    const m = t.re.exec(line);
    if (m?.groups?.target !== undefined) {
      const heater = t.heater === "bed" ? "bed" : `tool${m.groups.tool ?? currentTool}`;
      return { kind: "target", heater, target: Number(m.groups.target) };
    }
  }
  const sd = classifySd(line, grammar);
  if (sd) return { kind: "sd", message: sd };
  return { kind: "text", text: line };
}

/** The SD reply a line is, per the quirks' `sd` patterns; undefined when it is none. */
export function classifySd(line: string, grammar: Grammar): SdMessage | undefined {
  for (const [key, patterns] of grammar.sd) {
    for (const r of patterns) {
      const m = r.exec(line);
      if (m) return sdMessage(key, m, line);
    }
  }
  return undefined;
}

function sdMessage(key: SdPatternKey, m: RegExpExecArray, line: string): SdMessage {
  const g = m.groups ?? {};
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  switch (key) {
    case "fileOpened": {
      const msg: SdMessage = { type: "fileOpened" };
      if (g.name) msg.name = g.name;
      if (g.size !== undefined) msg.size = Number(g.size);
      return msg;
    }
    case "progress": {
      const pos = num(g.pos) ?? 0;
      const size = num(g.size) ?? 0;
      // Some Marlin versions say `SD printing byte 0/0` when nothing prints (§4.3).
      return size === 0 ? { type: "notPrinting" } : { type: "progress", pos, size };
    }
    case "openFailed":
      return g.name ? { type: "openFailed", name: g.name } : { type: "openFailed" };
    case "writing":
      return g.name ? { type: "writing", name: g.name.trim() } : { type: "writing" };
    case "deleted":
      return g.name ? { type: "deleted", name: g.name.trim() } : { type: "deleted" };
    case "cardFail":
      return { type: "cardFail", text: line };
    default:
      return { type: key };
  }
}

/** `Resend: 12`, `Resend:12`, `rs N12`, `rs 12`, `rs N2 Expected checksum 67` → the first integer (§1.6). */
function parseResend(line: string): number | undefined {
  let rest: string;
  const c1 = line.charCodeAt(1) | 0x20;
  if (c1 === 115 /* s */ && (line.charCodeAt(2) === 32 || line.charCodeAt(2) === 58)) rest = line.slice(2);
  else if (line.length >= 6 && line.slice(0, 6).toLowerCase() === "resend") rest = line.slice(6);
  else return undefined;
  const m = /^[\s:]*N?:?\s*(\d+)/i.exec(rest);
  return m ? Number(m[1]) : undefined;
}

function parseOk(line: string, grammar: Grammar, currentTool: number): Received {
  if (line.length === 2) return { kind: "ok" };
  const rest = line.slice(3).trim();
  const ok: Extract<Received, { kind: "ok" }> = { kind: "ok" };
  if (rest === "") return ok;
  // ADVANCED_OK `ok N10 P15 B3` (N only when the acked line was numbered) or Repetier `ok 123`.
  const c = rest.charCodeAt(0);
  if (c === 78 /* N */ || c === 80 /* P */ || (c >= 48 && c <= 57)) {
    const adv = /^(?:N(\d+)\s+)?P(\d+)\s+B(\d+)\s*$/.exec(rest);
    if (adv) {
      if (adv[1] !== undefined) ok.lineNumber = Number(adv[1]);
      ok.plannerFree = Number(adv[2]);
      ok.bufferFree = Number(adv[3]);
      return ok;
    }
    if (/^\d+$/.test(rest)) {
      ok.lineNumber = Number(rest);
      return ok;
    }
  }
  // A reboot that cut the reply short: Marlin 1.1 printed `ok T:start` (transcript marlin-6571).
  if (/(^|[\s:])start$/.test(rest)) {
    ok.report = { kind: "start" };
    return ok;
  }
  // The remainder may carry a report: `ok T:…` (M105), `ok FIRMWARE_NAME:…` (Klipper), `ok C: X:…` (Smoothie).
  ok.report = classify(rest.startsWith("C: ") ? rest.slice(3) : rest, grammar, currentTool);
  return ok;
}

function busyReason(line: string): string {
  const at = line.indexOf("busy:");
  return at >= 0 ? line.slice(at + 5).trim() : line.trim();
}

/** `//action:pause`, Klipper's `// action:pause` → name and parameters (split at the first space). */
function parseAction(line: string): Received | undefined {
  if (line.charCodeAt(0) !== 47 || line.charCodeAt(1) !== 47) return undefined;
  const body = line.slice(2).trimStart();
  if (!body.startsWith("action:")) return undefined;
  const text = body.slice(7).trim();
  const space = text.indexOf(" ");
  return space < 0
    ? { kind: "action", name: text, params: "" }
    : { kind: "action", name: text.slice(0, space), params: text.slice(space + 1).trim() };
}

function isErrorLine(line: string, grammar: Grammar): boolean {
  for (const p of grammar.errorPrefixes) if (line.startsWith(p)) return true;
  for (const r of grammar.stateLines) if (r.test(line)) return true;
  return false;
}

function classifyError(line: string, grammar: Grammar): ErrorClass {
  for (const [cls, patterns] of grammar.errors) for (const r of patterns) if (r.test(line)) return cls;
  return "error";
}
