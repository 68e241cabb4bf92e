/**
 * What each G-code does on the virtual printer. A handler either finishes at once ("ok": the
 * firmware acknowledges it), prints its own acknowledgement ("own-ok", e.g. M105's `ok T:…`),
 * or returns a {@link Blocking} wait that withholds the `ok` until it completes. The words are
 * the personality's; the behaviour is Marlin's unless a personality says otherwise.
 */
import type { GcodeCommand } from "./gcode.ts";
import { EXTRUDE_MAXLENGTH, type Machine } from "./machine.ts";
import type { Vec4 } from "./planner.ts";
import { BED_WAIT, DrainThen, HOTEND_WAIT, HeatWait, PlannerSpaceWait, UserWait, type Blocking } from "./waits.ts";

/** How a command ended (or that it has not ended yet). */
export type Outcome = "ok" | "own-ok" | Blocking;

/** Runs one parsed command at time `now`. */
export function execute(m: Machine, cmd: GcodeCommand, now: number): Outcome {
  if (m.shutdown && cmd.letter === "M" && cmd.code === 112) return "ok"; // acted on as it arrived
  const word = cmd.word.split(/\s/)[0]!.toUpperCase();
  if (m.shutdown && !(cmd.letter === "M" && cmd.code === 999) && !m.personality.restartCommands.includes(word)) {
    // Halted but talking (Klipper shutdown, Smoothie HALT): every command gets the shutdown words.
    const reply = m.personality.whileHalted(word);
    print(m, reply.lines);
    return reply.acked ? "ok" : "own-ok";
  }
  switch (cmd.letter) {
    case "G":
      return gcode(m, cmd, now);
    case "M":
      return mcode(m, cmd, now);
    case "T":
      return toolChange(m, cmd);
    default: {
      if (m.personality.objectLabels === "exclude_object" && m.options.cancelObjects && /^EXCLUDE_OBJECT/i.test(cmd.text)) {
        print(m, m.objects.excludeObject(cmd.text));
        return "ok";
      }
      const lines = m.personality.extended(cmd.text, m);
      if (lines === undefined) return unknown(m, cmd);
      for (const line of lines) m.print(line);
      return "ok";
    }
  }
}

function unknown(m: Machine, cmd: GcodeCommand): Outcome {
  for (const line of m.personality.unknown(cmd.text)) m.print(line);
  return "ok";
}

function print(m: Machine, lines: string[]): void {
  for (const line of lines) m.print(line);
}

function gcode(m: Machine, cmd: GcodeCommand, now: number): Outcome {
  if (cmd.subcode !== undefined) return unknown(m, cmd);
  switch (cmd.code) {
    case 0:
    case 1:
      return move(m, cmd, now, undefined);
    case 2:
      return move(m, cmd, now, true);
    case 3:
      return move(m, cmd, now, false);
    case 4: {
      // P in milliseconds wins over S in seconds only when S is absent (Marlin reads P, then S).
      const p = cmd.value("P");
      const s = cmd.value("S");
      const seconds = s !== undefined ? s : p !== undefined ? p / 1000 : 0;
      return new DrainThen(m, Math.max(0, seconds));
    }
    case 21: // Marlin without INCH_MODE_SUPPORT accepts G21 silently ("No error on unknown G21").
      return "ok";
    case 28: {
      const axes = m.motion.homingAxes(cmd);
      return new DrainThen(m, m.motion.homingSeconds(axes), () => {
        m.motion.home(axes);
        m.print(m.personality.position(m.motion, true));
      });
    }
    case 90:
      m.motion.relative = false;
      m.motion.extruderMode = "follow";
      return "ok";
    case 91:
      m.motion.relative = true;
      m.motion.extruderMode = "follow";
      return "ok";
    case 92:
      m.motion.setPosition(cmd);
      return "ok";
    default:
      return unknown(m, cmd);
  }
}

/** G0/G1 (arc undefined), G2 (clockwise) and G3: queue one planner block. */
function move(m: Machine, cmd: GcodeCommand, now: number, clockwise: boolean | undefined): Outcome {
  const motion = m.motion;
  if (m.options.noMotionBeforeHoming && !motion.homed.every(Boolean)) {
    // Marlin's MOTION_CONDITIONS: the move is refused (and acknowledged) until all axes were homed.
    print(m, m.personality.homeFirst(motion.homed));
    return "ok";
  }
  motion.takeFeedrate(cmd);
  const from = motion.position;
  const to = motion.target(cmd);
  if (m.objects.skipping) {
    // Inside a cancelled object (Marlin): the head stays, E is taken as extruded.
    motion.position = [from[0], from[1], from[2], to[3]];
    return "ok";
  }
  let blockFrom: Vec4 = from;
  if (to[3] !== from[3]) {
    // Marlin behaves as if the E part happened but moves no filament (planner.cpp).
    if (m.tooColdToExtrude()) {
      m.print("echo: cold extrusion prevented");
      blockFrom = [from[0], from[1], from[2], to[3]];
    } else if (Math.abs(to[3] - from[3]) > EXTRUDE_MAXLENGTH) {
      m.print("echo: too long extrusion prevented");
      blockFrom = [from[0], from[1], from[2], to[3]];
    }
  }
  const seconds =
    clockwise === undefined ? motion.linearSeconds(blockFrom, to) : motion.arcSeconds(blockFrom, to, cmd, clockwise);
  motion.position = to;
  const ms = m.wallMs(seconds);
  // Empty moves make no block; in instant mode a block would be done the moment it was queued.
  if (ms <= 0) return "ok";
  if (!m.planner.isFull) {
    m.queueMove(blockFrom, to, ms, now);
    return "ok";
  }
  return new PlannerSpaceWait(m, blockFrom, to, ms);
}

// Marlin `get_target_extruder_from_command`: T<n> if given and valid, else the active tool.
function targetExtruder(m: Machine, cmd: GcodeCommand): number | undefined {
  const t = cmd.value("T");
  if (t === undefined) return m.tool;
  if (t >= 0 && t < m.extruders && Number.isInteger(t)) return t;
  m.print(`echo:M${cmd.code} Invalid extruder ${Math.trunc(t)}`);
  return undefined;
}

function setTarget(m: Machine, heater: number, celsius: number): void {
  m.heaters.setTarget(heater, celsius);
  const line = m.personality.targetLine(heater === m.bed ? "bed" : heater, celsius);
  if (line !== undefined) m.print(line);
}

function view(m: Machine, tool: number) {
  return { bank: m.heaters, extruders: m.extruders, tool };
}

function mcode(m: Machine, cmd: GcodeCommand, now: number): Outcome {
  if (cmd.subcode !== undefined) return unknown(m, cmd);
  const sd = m.personality.sd;
  switch (cmd.code) {
    case 0:
    case 1: {
      // With a dwell it is a pause of that length; otherwise it waits for the user (§5 prompts).
      const s = cmd.value("S");
      const p = cmd.value("P");
      if (s !== undefined || p !== undefined) return new DrainThen(m, s ?? (p ?? 0) / 1000);
      if (m.personality.hostActions) {
        print(m, ["//action:prompt_end", `//action:prompt_begin ${cmd.args || `M${cmd.code} Stop`}`, "//action:prompt_button Continue", "//action:prompt_show"]);
      }
      return new UserWait(m);
    }
    case 17: // enable steppers
    case 75: // print job timer start/pause/stop
    case 76:
    case 77:
    case 200: // volumetric extrusion
    case 221: // flow percentage
    case 410: // quick-stop already acted when the line arrived
      return "ok";
    case 201: // machine limits: max feed rates are obeyed; accelerations and jerk are kept and reported
    case 203:
    case 204:
    case 205:
      m.motion.setLimits(cmd.code, cmd);
      return "ok";
    case 503: {
      const report = m.personality.m503?.(m.motion.limits);
      if (!report) return unknown(m, cmd);
      print(m, report);
      return "ok";
    }
    case 108:
      // Read from the queue (no emergency parser): releases waits now.
      m.waitForHeatup = false;
      m.waitForUser = false;
      return "ok";
    case 18:
    case 84:
      // Disabling steppers waits for the moves to finish, unless it only sets the timeout.
      return cmd.has("S") ? "ok" : new DrainThen(m, 0);
    case 20:
      if (!m.sd.mounted) print(m, sd.noCard());
      else print(m, sd.list(m.sd.list(), cmd.has("L"), cmd.has("T")));
      return "ok";
    case 21:
      print(m, m.sd.mount() ? sd.cardOk() : sd.noCard());
      return "ok";
    case 22:
      m.sd.mounted = false;
      return "ok";
    case 23: {
      const f = m.sd.select(cmd.args);
      print(m, f ? sd.opened(f) : sd.openFailed(cmd.args));
      return "ok";
    }
    case 24:
      if (m.sd.start() && m.personality.hostActions) m.print("//action:resume");
      return "ok";
    case 25:
      m.sd.pause();
      if (m.personality.hostActions) m.print("//action:pause");
      return "ok";
    case 26: {
      const s = cmd.value("S");
      if (s !== undefined) m.sd.seek(s);
      return "ok";
    }
    case 27: {
      const s = cmd.value("S");
      if (s !== undefined) m.sdReporter.set(s, now);
      else if (cmd.has("C")) m.print(m.sd.selected ? `Current file: ${m.sd.selected.short} ${m.sd.selected.long}` : "Current file: (no file)");
      else m.print(sdStatus(m));
      return "ok";
    }
    case 28:
      if (sd.readOnly) return unknown(m, cmd);
      print(m, m.sd.beginWrite(cmd.args) ? sd.writing(cmd.args) : sd.noCard());
      return "ok";
    case 29: // only reached when not writing: nothing to close
      return "ok";
    case 30: {
      if (sd.readOnly) return unknown(m, cmd);
      if (!m.sd.remove(cmd.args)) {
        print(m, sd.deleteFailed(cmd.args));
        return "ok";
      }
      const lines = sd.deleted(cmd.args);
      if (!m.options.gluedDeleteOk) {
        print(m, lines);
        return "ok";
      }
      // Old Marlin left out the newline: the ok runs into the reply.
      print(m, [...lines.slice(0, -1), `${lines.at(-1)}ok`]);
      return "own-ok";
    }
    case 524:
      m.sd.abort();
      return "ok";
    case 486:
      if (m.personality.objectLabels !== "m486" || !m.options.cancelObjects) return unknown(m, cmd);
      print(m, m.objects.m486(cmd));
      return "ok";
    case 82:
      m.motion.extruderMode = "absolute";
      return "ok";
    case 83:
      m.motion.extruderMode = "relative";
      return "ok";
    case 104:
    case 109: {
      const e = targetExtruder(m, cmd);
      if (e === undefined) return "ok";
      const s = cmd.value("S");
      const r = cmd.value("R");
      const temp = s ?? r;
      if (temp !== undefined) setTarget(m, e, temp);
      if (cmd.code === 104 || temp === undefined) return "ok";
      return new HeatWait(m, e, e, s !== undefined, HOTEND_WAIT, now);
    }
    case 105: {
      // Marlin's M105 prints its own `ok` with the report, and nothing at all for a bad T.
      const e = targetExtruder(m, cmd);
      if (e !== undefined) print(m, m.personality.m105(view(m, e)));
      return "own-ok";
    }
    case 106: {
      if ((cmd.value("P") ?? 0) !== 0) return "ok"; // one fan
      m.setFan(cmd.value("S") ?? 255);
      return "ok";
    }
    case 107:
      if ((cmd.value("P") ?? 0) === 0) m.setFan(0);
      return "ok";
    case 110: {
      const n = cmd.value("N");
      if (n !== undefined && m.personality.tracksLineNumbers) m.sequencer.lastN = Math.trunc(n);
      return "ok";
    }
    case 112:
      m.kill();
      return "own-ok";
    case 113: {
      const s = cmd.value("S");
      if (s !== undefined) m.keepaliveSeconds = Math.min(Math.max(Math.trunc(s), 0), 60);
      else m.print(`echo:M113 S${m.keepaliveSeconds}`);
      return "ok";
    }
    case 114: {
      const r = m.personality.m114(m.motion);
      print(m, r.lines);
      return r.ownOk ? "own-ok" : "ok";
    }
    case 115:
      print(m, m.personality.m115({ extruders: m.extruders, emergencyParser: m.options.emergencyParser, machineName: m.options.machineName }));
      return m.personality.m115InOk ? "own-ok" : "ok";
    case 117:
      m.message = cmd.args;
      return "ok";
    case 118: {
      // Serial print: `A1` prefixes `//` (host actions), `E1` `echo:`; `Pn` picks a port (there is one).
      let text = cmd.args;
      let prefix = "";
      for (let flag = /^(A1|E1|P\d)\s*/.exec(text); flag; flag = /^(A1|E1|P\d)\s*/.exec(text)) {
        if (flag[1] === "A1") prefix = "//";
        else if (flag[1] === "E1") prefix = "echo:";
        text = text.slice(flag[0].length);
      }
      m.print(prefix + text);
      return "ok";
    }
    case 140:
    case 190: {
      const s = cmd.value("S");
      const r = cmd.value("R");
      const temp = s ?? r;
      if (temp !== undefined) setTarget(m, m.bed, temp);
      if (cmd.code === 140 || temp === undefined) return "ok";
      return new HeatWait(m, m.bed, m.tool, s !== undefined, BED_WAIT, now);
    }
    case 154: {
      const s = cmd.value("S");
      if (s !== undefined) m.positionReporter.set(s, now);
      return "ok";
    }
    case 155: {
      const s = cmd.value("S");
      if (s !== undefined) {
        m.temperatureReporter.set(s, now);
        // Prusa's bitmask form: bit 2 adds the position (§3.5).
        const c = cmd.value("C");
        if (c !== undefined) m.positionReporter.set(c & 4 ? s : 0, now);
      }
      return "ok";
    }
    case 220: {
      const s = cmd.value("S");
      if (s !== undefined && s > 0) m.motion.feedratePercent = s;
      return "ok";
    }
    case 302: {
      const s = cmd.value("S");
      const p = cmd.value("P");
      if (s !== undefined) m.extrudeMinTemp = s;
      if (p !== undefined) m.allowColdExtrusion = p !== 0;
      else if (s !== undefined) m.allowColdExtrusion = s === 0;
      if (s === undefined && p === undefined) {
        const state = m.allowColdExtrusion ? "en" : "dis";
        m.print(`echo:Cold extrudes are ${state}abled (min temp ${m.extrudeMinTemp}C)`);
      }
      return "ok";
    }
    case 400:
      return new DrainThen(m, 0);
    case 876:
      // A prompt answer read from the queue releases the wait; `P1` only announces host support.
      if (cmd.has("S")) m.waitForUser = false;
      return "ok";
    case 999:
      m.shutdown = false;
      return "ok";
    default:
      return unknown(m, cmd);
  }
}

/** The M27 reply and auto-report line. */
export function sdStatus(m: Machine): string {
  const sd = m.personality.sd;
  const f = m.sd.selected;
  if (!f) return sd.notPrinting();
  return m.sd.printing ? sd.printing(m.sd.pos, f.content.length) : sd.paused(m.sd.pos, f.content.length);
}

/** T<n>: select a hotend (Marlin waits for the moves to finish, then reports the new tool). */
function toolChange(m: Machine, cmd: GcodeCommand): Outcome {
  const t = cmd.code;
  if (t >= m.extruders) {
    m.print(`echo:T${t} Invalid extruder`);
    return "ok";
  }
  if (m.extruders === 1) return "ok";
  return new DrainThen(m, 0, () => {
    m.tool = t;
    m.print(`echo:Active Extruder: ${t}`);
  });
}
