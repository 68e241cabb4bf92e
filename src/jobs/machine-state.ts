/**
 * The machine state a stream of G-code leaves behind — where the head is, in which modes, how
 * fast, the fan, the tool, the heater targets — as far as pausing, cancelling objects and
 * resuming after a crash need it. It follows the file's own coordinates (after G92), never
 * asks the printer, and reads each line once with a few character comparisons (it runs for
 * every line of a print, on the serial path).
 * Example: `t.apply("G1 X10 E2.5 F1800"); t.x === 10 && t.feedrate === 1800`.
 */

/** A copy of the state at one point of a file. */
export interface MachineSnapshot {
  x: number | null;
  y: number | null;
  z: number | null;
  /** Extruder position in the file's terms (grows in relative mode too). */
  e: number;
  /** G91: X/Y/Z moves are relative. */
  relative: boolean;
  /** M82 / M83, or following G90/G91 until either is given. */
  extruderMode: "follow" | "absolute" | "relative";
  /** Last feed rate, mm/min. */
  feedrate: number | null;
  /** Part-cooling fan, 0–255. */
  fan: number;
  tool: number;
  /** Heater targets the file set: `tool0`, `tool1`, `bed`, `chamber`. */
  targets: Record<string, number>;
  /** Filament pushed so far by moves, mm (all tools). */
  extruded: number;
}

const LOWER = 0x20;
const g = 103;
const m = 109;
const t = 116;

export class MachineTracker {
  x: number | null = null;
  y: number | null = null;
  z: number | null = null;
  e = 0;
  relative = false;
  extruderMode: MachineSnapshot["extruderMode"] = "follow";
  feedrate: number | null = null;
  fan = 0;
  tool = 0;
  targets: Record<string, number> = {};
  extruded = 0;

  // What the last line applied was (read by the object filter right after `apply`).
  /** G0–G3. */
  motion = false;
  /** A move with X or Y (it goes somewhere in the plane). */
  planar = false;
  /** Its Z word (the target in absolute mode, the distance in relative mode), or NaN. */
  zWord = NaN;
  /** Its X and Y distances (for relative moves). */
  dx = 0;
  dy = 0;
  /** Its E distance (0 without E), and E before it. */
  de = 0;
  eBefore = 0;
  hasE = false;
  /** Its F word, or NaN. */
  fWord = NaN;
  /** G92 with E. */
  setsE = false;
  /** A command that waits for heaters (M109, M190, M191, M116). */
  heatWait = false;
  /**
   * `M73 … R<minutes>`: the slicer's minutes left, valid when `hasM73Left`. The flag is what the
   * serial path tests on every line: a NaN test there deoptimised it at each M73 (an integer where
   * only NaN had been seen), recompiling it once a print.
   */
  m73Left = 0;
  hasM73Left = false;

  private pos = 0;
  private word = NaN;

  /** Whether E is relative now. */
  get relativeE(): boolean {
    return this.extruderMode === "follow" ? this.relative : this.extruderMode === "relative";
  }

  /** Reads one cleaned command (no comment, trimmed). */
  apply(cmd: string): void {
    this.motion = false;
    this.planar = false;
    this.hasE = false;
    this.setsE = false;
    this.heatWait = false;
    this.hasM73Left = false;
    this.de = 0;
    this.dx = 0;
    this.dy = 0;
    this.zWord = NaN;
    this.fWord = NaN;
    this.eBefore = this.e;
    const c0 = cmd.charCodeAt(0) | LOWER;
    if (c0 !== g && c0 !== m && c0 !== t) return;
    this.pos = 1;
    const code = this.readCode(cmd);
    if (code < 0) return;
    if (c0 === t) {
      this.tool = code;
      return;
    }
    if (c0 === g) this.gcode(cmd, code);
    else this.mcode(cmd, code);
  }

  snapshot(): MachineSnapshot {
    return {
      x: this.x,
      y: this.y,
      z: this.z,
      e: this.e,
      relative: this.relative,
      extruderMode: this.extruderMode,
      feedrate: this.feedrate,
      fan: this.fan,
      tool: this.tool,
      targets: { ...this.targets },
      extruded: this.extruded,
    };
  }

  /** Takes up a state recorded earlier (a print resumed part-way through its file). */
  restore(s: MachineSnapshot): void {
    this.x = s.x;
    this.y = s.y;
    this.z = s.z;
    this.e = s.e;
    this.relative = s.relative;
    this.extruderMode = s.extruderMode;
    this.feedrate = s.feedrate;
    this.fan = s.fan;
    this.tool = s.tool;
    this.targets = { ...s.targets };
    this.extruded = s.extruded;
  }

  private gcode(cmd: string, code: number): void {
    switch (code) {
      case 0:
      case 1:
      case 2:
      case 3:
        this.move(cmd);
        return;
      case 28: {
        let named = false;
        let hx = false;
        let hy = false;
        let hz = false;
        for (let letter = this.nextWord(cmd); letter !== 0; letter = this.nextWord(cmd)) {
          if (letter === 120) hx = named = true;
          else if (letter === 121) hy = named = true;
          else if (letter === 122) hz = named = true;
        }
        if (!named || hx) this.x = 0;
        if (!named || hy) this.y = 0;
        if (!named || hz) this.z = 0;
        return;
      }
      case 90:
        this.relative = false;
        return;
      case 91:
        this.relative = true;
        return;
      case 92:
        for (let letter = this.nextWord(cmd); letter !== 0; letter = this.nextWord(cmd)) {
          const v = this.word;
          if (Number.isNaN(v)) continue;
          if (letter === 120) this.x = v;
          else if (letter === 121) this.y = v;
          else if (letter === 122) this.z = v;
          else if (letter === 101) {
            this.e = v;
            this.setsE = true;
          }
        }
        return;
    }
  }

  private move(cmd: string): void {
    this.motion = true;
    const rel = this.relative;
    const relE = this.relativeE;
    for (let letter = this.nextWord(cmd); letter !== 0; letter = this.nextWord(cmd)) {
      const v = this.word;
      if (Number.isNaN(v)) continue;
      switch (letter) {
        case 120: // x
          this.planar = true;
          this.dx = rel ? v : this.x === null ? 0 : v - this.x;
          this.x = rel ? (this.x ?? 0) + v : v;
          break;
        case 121: // y
          this.planar = true;
          this.dy = rel ? v : this.y === null ? 0 : v - this.y;
          this.y = rel ? (this.y ?? 0) + v : v;
          break;
        case 122: // z
          this.zWord = v;
          this.z = rel ? (this.z ?? 0) + v : v;
          break;
        case 101: // e
          this.hasE = true;
          this.de = relE ? v : v - this.e;
          this.e = relE ? this.e + v : v;
          this.extruded += this.de;
          break;
        case 102: // f
          this.fWord = v;
          if (v > 0) this.feedrate = v;
          break;
      }
    }
  }

  private mcode(cmd: string, code: number): void {
    switch (code) {
      case 73:
        for (let letter = this.nextWord(cmd); letter !== 0; letter = this.nextWord(cmd)) {
          if (letter === 114 && !Number.isNaN(this.word)) {
            this.m73Left = this.word;
            this.hasM73Left = true;
          }
        }
        return;
      case 116:
        this.heatWait = true;
        return;
      case 82:
        this.extruderMode = "absolute";
        return;
      case 83:
        this.extruderMode = "relative";
        return;
      case 104:
      case 109:
      case 140:
      case 190:
      case 141:
      case 191: {
        let value = NaN;
        let toolWord = -1;
        for (let letter = this.nextWord(cmd); letter !== 0; letter = this.nextWord(cmd)) {
          if ((letter === 115 || (letter === 114 && Number.isNaN(value))) && !Number.isNaN(this.word)) value = this.word; // S, else R
          else if (letter === 116 && !Number.isNaN(this.word)) toolWord = this.word;
        }
        if (code === 109 || code === 190 || code === 191) this.heatWait = true;
        if (Number.isNaN(value)) return;
        const heater = code === 140 || code === 190 ? "bed" : code === 141 || code === 191 ? "chamber" : `tool${toolWord >= 0 ? toolWord : this.tool}`;
        this.targets[heater] = value;
        return;
      }
      case 106: {
        let speed = 255;
        let fan = 0;
        for (let letter = this.nextWord(cmd); letter !== 0; letter = this.nextWord(cmd)) {
          if (letter === 115 && !Number.isNaN(this.word)) speed = this.word;
          else if (letter === 112 && !Number.isNaN(this.word)) fan = this.word;
        }
        if (fan === 0) this.fan = Math.max(0, Math.min(255, speed));
        return;
      }
      case 107: {
        let fan = 0;
        for (let letter = this.nextWord(cmd); letter !== 0; letter = this.nextWord(cmd)) if (letter === 112 && !Number.isNaN(this.word)) fan = this.word;
        if (fan === 0) this.fan = 0;
        return;
      }
    }
  }

  /** The command's number right after its letter (G1 → 1), or -1. Sub-codes (G29.1) count as none. */
  private readCode(cmd: string): number {
    let n = 0;
    let i = this.pos;
    const start = i;
    for (; i < cmd.length; i++) {
      const c = cmd.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
    }
    if (i === start || (i < cmd.length && cmd.charCodeAt(i) === 46)) return -1;
    this.pos = i;
    return n;
  }

  /** The next word's letter (lower case; 0 at the end); its number (or NaN) is in `word`. */
  private nextWord(cmd: string): number {
    let i = this.pos;
    const len = cmd.length;
    while (i < len) {
      const c = cmd.charCodeAt(i) | LOWER;
      if (c >= 97 && c <= 122) break;
      i++;
    }
    if (i >= len) {
      this.pos = len;
      return 0;
    }
    const letter = cmd.charCodeAt(i) | LOWER;
    i++;
    // A number: optional sign, digits, one point, digits. (Reading past the end is a slow path
    // in JavaScriptCore, taken at every line's last word: -1 stands for the end instead.)
    let sign = 1;
    let c = i < len ? cmd.charCodeAt(i) : -1;
    if (c === 45 || c === 43) {
      if (c === 45) sign = -1;
      c = ++i < len ? cmd.charCodeAt(i) : -1;
    }
    // Digits into an integer, divided once at the end: "1.23" reads exactly as parseFloat does.
    let mantissa = 0;
    let digits = 0;
    let decimals = 0;
    while (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      c = ++i < len ? cmd.charCodeAt(i) : -1;
    }
    if (c === 46) {
      c = ++i < len ? cmd.charCodeAt(i) : -1;
      while (c >= 48 && c <= 57) {
        mantissa = mantissa * 10 + (c - 48);
        digits++;
        decimals++;
        c = ++i < len ? cmd.charCodeAt(i) : -1;
      }
    }
    this.word = digits > 0 ? (sign * mantissa) / 10 ** decimals : NaN;
    this.pos = i;
    return letter;
  }
}
