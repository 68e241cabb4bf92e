/**
 * The G-code interpreter of the analyser: one streaming pass over the bytes (fed in chunks of any
 * size) that tracks positions and modes, feeds the motion planner, and collects filament per
 * tool, printing and travel areas, layers with their byte offsets, object labels with bounding
 * boxes and byte ranges, heat-up waits, the offset → elapsed-time table, and thumbnail blocks.
 * Pure: bytes in, a `MotionAnalysis` out; no I/O, no clock.
 */
import { HullBuilder } from "./hull.ts";
import { LongLines, type LongLine } from "./long-lines.ts";
import {
  A_BIT,
  B_BIT,
  C_BIT,
  E_BIT,
  F_BIT,
  G,
  J_BIT,
  LexedLine,
  M,
  NONE,
  P_BIT,
  R_BIT,
  S_BIT,
  T,
  T_BIT,
  WORD,
  X_BIT,
  Y_BIT,
  Z_BIT,
  bytesAt,
  lex,
  skipBlanks,
  text,
} from "./lexer.ts";
import { MoveState } from "./moves.ts";
import type { MachineLimits } from "./limits.ts";
import { MOVE_PRINT, MOVE_RETRACT, MOVE_TRAVEL, MotionPlanner } from "./planner.ts";
import type { LayerStart, TimelineParts } from "./result.ts";

const NL = 10;
const L_BIT = 1 << 11;
/** Kinds of planner marks besides a layer index. */
const STEP = -1;
/** Klipper-style extended commands: `NAME` or `NAME KEY=value …`. */
const WORD_COMMAND = /^[A-Za-z_][A-Za-z0-9_]*(\s+[A-Za-z_][A-Za-z0-9_]*=\S*)*\s*$/;
const Z_CANDIDATE = -2;
/** Macro names kept per file: enough to say which firmware it needs and to name a few. */
const MAX_MACROS = 16;
/** RepRapFirmware's meta commands (`else`, `abort` …) look like macro calls without parameters. */
const RRF_META_COMMANDS = new Set(["if", "elif", "else", "while", "break", "continue", "abort", "var", "global", "set", "echo", "skip"]);
/** A row of the progress table every this many bytes (besides every layer start). */
export const TIMELINE_STEP = 256 * 1024;
/** Base64 characters of thumbnails collected per file: real ones total a few hundred kB; a hostile file must not fill the memory. */
const MAX_THUMBNAIL_CHARS = 16 * 1024 * 1024;
/**
 * Where a PrusaSlicer-family wipe tower tool change is (its `; CP TOOLCHANGE …` comments). The
 * slicer's `filament used` counts the tower's ramming and wiping extrusions but not the moves that
 * shuttle the filament between the nozzle and the cooling tube or the MMU (cooling moves, loading):
 * those push back filament that the unload pulled out, so they consume none.
 */
const TOWER_NONE = 0;
/** After `CP TOOLCHANGE UNLOAD`: ramming, until the first retraction into the cooling tube. */
const TOWER_RAMMING = 1;
/** From that retraction to `CP TOOLCHANGE WIPE`: cooling moves, the tool change, loading. */
const TOWER_SHUTTLE = 2;
/** Marlin's default homing speeds (HOMING_FEEDRATE_MM_M), mm/s. */
const HOMING_MM_S = { xy: 50, z: 4 } as const;

export interface AnalyserOptions {
  limits: MachineLimits;
  /** M203 and M566 values are in mm/min on RepRapFirmware; Marlin uses mm/s for M203. */
  feedratesPerMinute?: boolean;
  /** Seconds an MMU needs to load / unload a filament, per tool (PrusaSlicer's config). */
  loadTimes?: number[];
  unloadTimes?: number[];
}

/** A box in machine coordinates; all Infinity/-Infinity while empty. */
export interface Box {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  minZ: number;
  maxZ: number;
}

export interface Layer {
  /** Z of the layer's first extrusion (or of the nozzle when the layer prints nothing). */
  z: number;
  /** Byte offset where the layer starts (its marker, or the move to its height). */
  offset: number;
  /** Estimated seconds from the start of the print to this layer. */
  elapsed: number;
  /** The machine state where the layer starts, so it can be read on its own (the layer viewer). */
  start: LayerStart;
}

export interface PrintObject {
  name: string;
  /** Where the label came from. */
  source: "comment" | "exclude_object" | "m486" | "cura" | "ideamaker";
  /** Extent of the object's extrusion, or null when nothing was extruded inside its label. */
  box: Box | null;
  /** Byte ranges [start, end) of its labelled sections (skip these to cancel the object). */
  ranges: [number, number][];
  /** Filament extruded inside the labels, mm. */
  filament: number;
  /** The firmware's number for it (`M486 S<index>`), for M486 labels: what `M486 P<index>` cancels. */
  index?: number;
  /** Polygon and centre as declared by EXCLUDE_OBJECT_DEFINE, if any. */
  center?: [number, number];
  polygon?: [number, number][];
}

export interface HeatWait {
  heater: "tool" | "bed" | "chamber";
  tool: number;
  target: number;
  offset: number;
}

export interface RawThumbnail {
  format: "PNG" | "JPG" | "QOI";
  width: number;
  height: number;
  declaredLength: number;
  base64: string;
}

export interface MotionAnalysis {
  bytes: number;
  lines: number;
  moves: number;
  estimatedTime: number;
  /**
   * Filament per tool (index = tool number), mm pushed by moves that print (E > 0 with XY motion),
   * except a wipe tower's cooling and loading moves (see TOWER_SHUTTLE).
   */
  filament: number[];
  /** Of `filament`, the mm extruded in custom G-code (`;TYPE:Custom`: start/end G-code, purge lines), per tool. */
  customFilament: number[];
  /** The same by the slicer's feature type (`;TYPE:` comments; "Custom" is start/end G-code). */
  filamentByRole: Record<string, number>;
  printingArea: Box | null;
  /** The convex hull of the X/Y points printing moves reach, counter-clockwise (see hull.ts). */
  printingHull: [number, number][];
  travelArea: Box | null;
  layers: Layer[];
  /** Whether layers came from slicer markers or from the heights of extrusion moves. */
  layerSource: "markers" | "heights" | "none";
  objects: PrintObject[];
  heatWaits: HeatWait[];
  /** [byte offset, elapsed seconds] rows, ascending: layer starts and every TIMELINE_STEP bytes. */
  timeline: [number, number][];
  /**
   * For each timeline row, what its elapsed seconds are made of (the planner's `parts`): cruise
   * seconds of X/Y and E-only moves, millimetres of Z-only moves, seconds of waits, and cruise
   * seconds of Z-only moves.
   */
  timelineParts: TimelineParts[];
  toolChanges: number;
  toolsUsed: number[];
  colorChanges: number;
  thumbnails: RawThumbnail[];
  /** Lines that are neither G-code nor comments (garbage), and the first one's offset. */
  badLines: number;
  firstBadOffset: number;
  /** Commands left out because a number in them was beyond any real machine's (lexer MAX_VALUE), and the first one's offset. */
  outOfRangeLines: number;
  firstOutOfRangeOffset: number;
  /** Whether a NUL byte or other binary data was seen. */
  binary: boolean;
  /** The last line had no newline. */
  endsMidLine: boolean;
  /** The longest command line of each command word (those over LONG_LINE characters). */
  longLines: LongLine[];
  /** The macros (Klipper-style extended commands, EXCLUDE_OBJECT_* aside) the file calls, by first use, up to MAX_MACROS. */
  macros: string[];
}

function emptyBox(): Float64Array {
  return new Float64Array([Infinity, -Infinity, Infinity, -Infinity, Infinity, -Infinity]);
}

/** Grows box `b` ([minX, maxX, minY, maxY, minZ, maxZ]) to hold a point. */
function include(b: Float64Array, x: number, y: number, z: number): void {
  includeXY(b, x, y);
  if (z < b[4]!) b[4] = z;
  if (z > b[5]!) b[5] = z;
}

/** The same for X and Y only (a printing move's start: its height is the end's). */
function includeXY(b: Float64Array, x: number, y: number): void {
  if (x < b[0]!) b[0] = x;
  if (x > b[1]!) b[1] = x;
  if (y < b[2]!) b[2] = y;
  if (y > b[3]!) b[3] = y;
}

function boxOf(b: Float64Array): Box | null {
  if (b[0] === Infinity) return null;
  return { minX: b[0]!, maxX: b[1]!, minY: b[2]!, maxY: b[3]!, minZ: b[4]!, maxZ: b[5]! };
}

interface ObjectState {
  object: PrintObject;
  box: Float64Array;
}

export class GcodeAnalyser extends MoveState {
  private readonly planner: MotionPlanner;
  private readonly line = new LexedLine();
  private readonly feedratesPerMinute: boolean;
  private readonly loadTimes: number[];
  private readonly unloadTimes: number[];

  // Machine state (logical coordinates, as the G-code sees them): position, E and modes in MoveState.
  private feedrate = 25; // Marlin's start-up feed rate, mm/s
  private unloaded = true;
  private wiping = false;
  private tower = TOWER_NONE;
  private retractLength = 3;
  private retractSpeed = 45;
  private recoverExtra = 0;
  private recoverSpeed = 8;
  private retracted = false;

  // Results.
  private bytes = 0;
  private lines = 0;
  private moves = 0;
  private readonly filament: number[] = [0];
  private readonly customFilament: number[] = [0];
  /** Index of the "Custom" feature type in roleNames, once seen. */
  private customRole = -1;
  private readonly roleNames: string[] = ["unknown"];
  private readonly roleFilament: number[] = [0];
  private role = 0;
  private readonly printBox = emptyBox();
  private readonly printHull = new HullBuilder();
  private readonly travelBox = emptyBox();
  private readonly layers: Layer[] = [];
  private layerSource: MotionAnalysis["layerSource"] = "none";
  private layerZ = NaN;
  private layerOpen = false;
  private zChangeOffset = 0;
  private zChangeMark = -1;
  /** The state before the latest line that changed Z (a layer by heights starts there), and that line's offset. */
  private zChangeStart: LayerStart | null = null;
  private zStartOffset = -1;
  // The position and E before the current move line (its own move has changed them by the time a layer is found).
  private lineOffset = -1;
  private lineX = 0;
  private lineY = 0;
  private lineZ = 0;
  private lineE = 0;
  private readonly heatWaits: HeatWait[] = [];
  private toolChanges = 0;
  private readonly toolsUsed = new Set<number>();
  private colorChanges = 0;
  private badLines = 0;
  private firstBadOffset = -1;
  private outOfRangeLines = 0;
  private firstOutOfRangeOffset = -1;
  private binary = false;
  private readonly longLines = new LongLines();
  private readonly macros: string[] = [];

  // Marks for the planner: every TIMELINE_STEP bytes and at layer starts.
  private nextTimeline = 0;
  private readonly marks: { offset: number; layer: number }[] = [];

  // Objects.
  private readonly objects: ObjectState[] = [];
  private readonly objectByName = new Map<string, ObjectState>();
  private current: ObjectState | null = null;
  private currentStart = 0;
  private readonly m486Names = new Map<number, string>();

  // Thumbnails being read.
  private thumb: { format: RawThumbnail["format"]; width: number; height: number; declared: number; parts: string[] } | null = null;
  private readonly thumbnails: RawThumbnail[] = [];
  private thumbnailChars = 0;

  // A line split across two chunks.
  private carry: Uint8Array | null = null;

  constructor(options: AnalyserOptions) {
    super();
    this.planner = new MotionPlanner(options.limits);
    this.feedratesPerMinute = options.feedratesPerMinute ?? false;
    this.loadTimes = options.loadTimes ?? [];
    this.unloadTimes = options.unloadTimes ?? [];
  }

  /** Feeds the next bytes of the file. */
  push(chunk: Uint8Array): void {
    // A UTF-8 byte order mark (some editors write one) is not part of the first line.
    let from = this.bytes === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? 3 : 0;
    if (this.carry) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        const joined = new Uint8Array(this.carry.length + chunk.length);
        joined.set(this.carry);
        joined.set(chunk, this.carry.length);
        this.carry = joined;
        this.bytes += chunk.length;
        return;
      }
      const joined = new Uint8Array(this.carry.length + nl + 1);
      joined.set(this.carry);
      joined.set(chunk.subarray(0, nl + 1), this.carry.length);
      const base = this.bytes - this.carry.length;
      this.carry = null;
      this.scan(joined, 0, joined.length, base);
      from = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last < from) {
      this.carry = chunk.slice(from);
      this.bytes += chunk.length;
      return;
    }
    this.scan(chunk, from, last + 1, this.bytes);
    if (last + 1 < chunk.length) this.carry = chunk.slice(last + 1);
    this.bytes += chunk.length;
  }

  /** Ends the pass and returns the results. */
  finish(): MotionAnalysis {
    let endsMidLine = false;
    if (this.carry && this.carry.length > 0) {
      endsMidLine = true;
      const tail = this.carry;
      this.carry = null;
      this.processLine(tail, 0, tail.length, this.bytes - tail.length);
      this.lines++;
    }
    this.closeObject(this.bytes);
    const total = this.planner.finish();
    const times = this.planner.markTimes;
    const { markParts, parts } = this.planner;
    const row = (p: Float64Array) => [p[0]!, p[1]!, p[2]!, p[3]!, p[4]!] as TimelineParts;
    const timeline: [number, number][] = [];
    const timelineParts: TimelineParts[] = [];
    this.marks.forEach((m, i) => {
      // Z-change candidates that did not turn out to start a layer are not rows.
      if (m.layer === Z_CANDIDATE) return;
      const elapsed = times[i] ?? total;
      if (m.layer >= 0) this.layers[m.layer]!.elapsed = elapsed;
      if (timeline.length === 0 || timeline[timeline.length - 1]![0] !== m.offset) {
        timeline.push([m.offset, elapsed]);
        timelineParts.push(row(markParts[i] ?? parts));
      }
    });
    timeline.push([this.bytes, total]);
    timelineParts.push(row(parts));
    const tools: number[] = [...this.toolsUsed].sort((a, b) => a - b);
    return {
      bytes: this.bytes,
      lines: this.lines,
      moves: this.moves,
      estimatedTime: total,
      filament: this.filament.map((f) => f ?? 0),
      customFilament: this.filament.map((_, t) => this.customFilament[t] ?? 0),
      filamentByRole: Object.fromEntries(this.roleNames.map((name, i) => [name, this.roleFilament[i]!]).filter(([, mm]) => (mm as number) > 0)),
      printingArea: boxOf(this.printBox),
      printingHull: this.printHull.result(),
      travelArea: boxOf(this.travelBox),
      layers: this.layers,
      layerSource: this.layerSource,
      objects: this.objects.map((o) => ({ ...o.object, box: boxOf(o.box) })),
      heatWaits: this.heatWaits,
      timeline,
      timelineParts,
      toolChanges: this.toolChanges,
      toolsUsed: tools.length > 0 ? tools : this.filament.some((f) => f > 0) ? [0] : [],
      colorChanges: this.colorChanges,
      thumbnails: this.thumbnails,
      badLines: this.badLines,
      firstBadOffset: this.firstBadOffset,
      outOfRangeLines: this.outOfRangeLines,
      firstOutOfRangeOffset: this.firstOutOfRangeOffset,
      binary: this.binary,
      endsMidLine,
      longLines: this.longLines.result(),
      macros: this.macros,
    };
  }

  /** Lines in buf[from, to) (to is just after a `\n`); `base` is the file offset of buf[0]. */
  private scan(buf: Uint8Array, from: number, to: number, base: number): void {
    let i = from;
    while (i < to) {
      let nl = buf.indexOf(NL, i);
      if (nl < 0 || nl >= to) nl = to;
      const offset = base + i;
      if (offset >= this.nextTimeline) {
        this.marks.push({ offset, layer: STEP });
        this.planner.mark(offset);
        this.nextTimeline = offset + TIMELINE_STEP;
      }
      this.processLine(buf, i, nl, offset);
      this.lines++;
      i = nl + 1;
    }
  }

  private processLine(buf: Uint8Array, start: number, end: number, offset: number): void {
    const line = this.line;
    // File offset just past this line (where a section that ends with it ends).
    const after = offset + (end - start) + 1;
    lex(buf, start, end, line);
    // `this.lines` counts the lines before this one.
    this.longLines.note(buf, start, line.comment >= 0 ? line.comment - 1 : end, this.lines + 1);
    const letter = line.letter;
    // A command with an absurd number (X1e999, a 10 MB run of digits) is left out whole: half of
    // it (a move without its X) would be as wrong, and the number would poison every sum after it.
    // Display text (M117/M118) is not read, so its words do not count.
    if (line.outOfRange && (letter === G || letter === T || (letter === M && line.code !== 117 && line.code !== 118))) {
      if (this.firstOutOfRangeOffset < 0) this.firstOutOfRangeOffset = offset;
      this.outOfRangeLines++;
    } else if (letter === G) {
      const code = line.code;
      if (code === 1 || code === 0) this.linear(line, offset);
      else if (code === 2 || code === 3) this.arc(line, offset, code === 2);
      else this.gcode(line, offset);
    } else if (letter === M) this.mcode(line, buf, offset, after);
    else if (letter === T) this.toolChange(line.code);
    else if (letter === WORD) this.word(buf, line.start, line.comment >= 0 ? line.comment - 1 : end, offset, after);
    else if (letter === NONE && line.comment < 0) this.garbage(buf, line.start, end, offset);
    if (line.comment >= 0) this.comment(buf, line.comment, end, offset, after);
  }

  private garbage(buf: Uint8Array, start: number, end: number, offset: number): void {
    // Blank lines (and whitespace / CR) are fine.
    let i = start;
    while (i < end && (buf[i] === 32 || buf[i] === 9 || buf[i] === 13)) i++;
    if (i >= end) return;
    for (let k = i; k < end; k++) {
      const c = buf[k]!;
      if (c === 0 || (c < 32 && c !== 9 && c !== 13)) {
        this.binary = true;
        break;
      }
    }
    // Lines starting with a letter we do not interpret (e.g. "D1", "H2") are not garbage.
    const c = buf[i]! & 0xdf;
    if (!this.binary && c >= 65 && c <= 90 && i + 1 < end && ((buf[i + 1]! >= 48 && buf[i + 1]! <= 57) || buf[i + 1] === 32)) return;
    if (this.firstBadOffset < 0) this.firstBadOffset = offset;
    this.badLines++;
  }

  /** G0/G1. */
  private linear(line: LexedLine, offset: number): void {
    const mask = line.mask;
    const v = line.values;
    const u = this.units;
    if ((mask & F_BIT) !== 0 && v[5]! > 0) this.feedrate = (v[5]! * u) / 60;
    this.lineStart(offset);
    this.target(line);
    const de = (mask & E_BIT) !== 0 ? this.extrusion(v[4]! * u) : 0;
    this.moveTo(this.tx, this.ty, this.tz, de, offset);
  }

  /** A straight move from the current position; updates position, areas, layers, planner. */
  /** `plan = false`: the machine moves there by itself (homing), not at the file's feed rate. */
  private moveTo(nx: number, ny: number, nz: number, de: number, offset: number, plan = true): void {
    const dx = nx - this.x;
    const dy = ny - this.y;
    const dz = nz - this.z;
    if (dx === 0 && dy === 0 && dz === 0 && de === 0) return;
    this.moves++;
    const xy = dx !== 0 || dy !== 0;
    let kind: number;
    if (de > 0 && xy) {
      kind = MOVE_PRINT;
      if (this.tower !== TOWER_SHUTTLE) this.extruded(nx, ny, nz, de, offset);
    } else if (!xy && dz === 0) {
      kind = MOVE_RETRACT;
      if (de < 0 && this.tower === TOWER_RAMMING) this.tower = TOWER_SHUTTLE;
    } else kind = this.wiping ? MOVE_PRINT : MOVE_TRAVEL;
    if (dz !== 0) {
      this.zChangeOffset = offset;
      if (this.layerSource !== "markers") {
        // An arc's chords each change Z: the line's start is before the first.
        if (offset !== this.zStartOffset) {
          this.zStartOffset = offset;
          this.zChangeStart = this.stateAt(offset);
        }
        this.zChangeMark = this.marks.length;
        this.marks.push({ offset, layer: Z_CANDIDATE });
        this.planner.mark(offset);
      }
    }
    include(this.travelBox, this.x, this.y, this.z);
    include(this.travelBox, nx, ny, nz);
    if (plan) this.planner.move(dx, dy, dz, de, this.feedrate, kind, offset);
    this.x = nx;
    this.y = ny;
    this.z = nz;
  }

  /** Bookkeeping for a move that lays down filament. */
  private extruded(nx: number, ny: number, nz: number, de: number, offset: number): void {
    const tool = this.tool;
    this.filament[tool] = (this.filament[tool] ?? 0) + de;
    this.roleFilament[this.role]! += de;
    if (this.role === this.customRole) this.customFilament[tool] = (this.customFilament[tool] ?? 0) + de;
    if (!this.toolsUsed.has(tool)) this.toolsUsed.add(tool);
    includeXY(this.printBox, this.x, this.y);
    include(this.printBox, nx, ny, nz);
    // An arc's chord points lie on the arc, as the firmware's own do (it cuts arcs into chords too).
    this.printHull.add(this.x, this.y);
    this.printHull.add(nx, ny);
    // Layers.
    if (nz !== this.layerZ) {
      if (this.layerSource === "markers") {
        if (this.layerOpen) {
          this.layers[this.layers.length - 1]!.z = nz;
          this.layerOpen = false;
        }
        this.layerZ = nz;
      } else if (Math.abs(nz - this.layerZ) > 1e-6 || Number.isNaN(this.layerZ)) {
        this.layerSource = "heights";
        this.layerZ = nz;
        const markIndex = this.zChangeMark >= 0 && this.marks[this.zChangeMark]!.offset === this.zChangeOffset ? this.zChangeMark : -1;
        const index = this.layers.length;
        const start = markIndex >= 0 && this.zStartOffset === this.zChangeOffset ? this.zChangeStart! : this.stateAt(offset);
        this.layers.push({ z: nz, offset: markIndex >= 0 ? this.zChangeOffset : offset, elapsed: 0, start });
        if (markIndex >= 0) this.marks[markIndex]!.layer = index;
        else {
          this.marks.push({ offset, layer: index });
          this.planner.mark(offset);
        }
      }
    } else if (this.layerOpen) this.layerOpen = false;
    const obj = this.current;
    if (obj !== null) {
      obj.object.filament += de;
      includeXY(obj.box, this.x, this.y);
      include(obj.box, nx, ny, nz);
    }
  }

  /** Notes the position and E before a move line changes them. */
  private lineStart(offset: number): void {
    this.lineOffset = offset;
    this.lineX = this.x;
    this.lineY = this.y;
    this.lineZ = this.z;
    this.lineE = this.e;
  }

  /** The machine state before the line at `offset` (the current one, or one with no move). */
  private stateAt(offset: number): LayerStart {
    const s = this.state();
    if (this.lineOffset === offset) Object.assign(s, { x: this.lineX, y: this.lineY, z: this.lineZ, e: this.lineE });
    return s;
  }

  /** A layer marker comment from the slicer. */
  private layerMarker(offset: number): void {
    if (this.layerSource !== "markers") {
      // Anything before the first marker (purge lines in the start G-code) is not a layer.
      this.layerSource = "markers";
      this.layers.length = 0;
      for (const m of this.marks) if (m.layer >= 0) m.layer = Z_CANDIDATE;
    }
    const index = this.layers.length;
    this.layers.push({ z: this.z, offset, elapsed: 0, start: this.stateAt(offset) });
    this.layerOpen = true;
    this.layerZ = NaN;
    this.marks.push({ offset, layer: index });
    this.planner.mark(offset);
    // Cura labels have no end: a new layer ends the open object section.
    if (this.current && (this.current.object.source === "cura" || this.current.object.source === "ideamaker")) this.closeObject(offset);
  }

  /** G2/G3 as chords (src/analysis/arcs.ts), with E and Z spread evenly. */
  private arc(line: LexedLine, offset: number, clockwise: boolean): void {
    const mask = line.mask;
    const v = line.values;
    const u = this.units;
    if ((mask & F_BIT) !== 0 && v[5]! > 0) this.feedrate = (v[5]! * u) / 60;
    const z0 = this.z;
    this.lineStart(offset);
    this.target(line);
    const { tx, ty, tz } = this;
    const de = (mask & E_BIT) !== 0 ? this.extrusion(v[4]! * u) : 0;
    const plan = this.arcTo(line, clockwise);
    if (!plan) {
      this.moveTo(tx, ty, tz, de, offset);
      return;
    }
    const { segments } = plan;
    for (let s = 1; s <= segments; s++) {
      const f = s / segments;
      const angle = plan.start + plan.sweep * f;
      const px = s === segments ? tx : plan.cx + plan.radius * Math.cos(angle);
      const py = s === segments ? ty : plan.cy + plan.radius * Math.sin(angle);
      this.moveTo(px, py, z0 + (tz - z0) * f, de / segments, offset);
    }
  }

  /** Other G codes. */
  private gcode(line: LexedLine, offset: number): void {
    const mask = line.mask;
    const v = line.values;
    switch (line.code) {
      case 4: {
        const seconds = ((mask & S_BIT) !== 0 ? v[18]! : 0) + ((mask & P_BIT) !== 0 ? v[15]! / 1000 : 0);
        this.planner.synchronize(Math.max(0, seconds));
        break;
      }
      case 10: // firmware retraction
        if ((mask & (P_BIT | L_BIT)) !== 0) break; // G10 L/P sets tool offsets on RepRapFirmware
        if (!this.retracted) {
          this.retracted = true;
          this.firmwareRetract(-this.retractLength, this.retractSpeed, offset);
        }
        break;
      case 11:
        if (this.retracted) {
          this.retracted = false;
          this.firmwareRetract(this.retractLength + this.recoverExtra, this.recoverSpeed, offset);
        }
        break;
      case 20:
      case 21:
        this.inches(line.code === 20);
        break;
      case 28: {
        // Homing ends at 0 on the named axes (all when none is named). The firmware homes at its
        // own homing speeds, not the file's feed rate, so it is a wait of that length.
        const any = (mask & (X_BIT | Y_BIT | Z_BIT)) !== 0;
        this.lineStart(offset);
        const nx = !any || (mask & X_BIT) !== 0 ? 0 : this.x;
        const ny = !any || (mask & Y_BIT) !== 0 ? 0 : this.y;
        const nz = !any || (mask & Z_BIT) !== 0 ? 0 : this.z;
        const seconds = Math.abs(this.x - nx) / HOMING_MM_S.xy + Math.abs(this.y - ny) / HOMING_MM_S.xy + Math.abs(this.z - nz) / HOMING_MM_S.z;
        this.moveTo(nx, ny, nz, 0, offset, false);
        this.planner.synchronize(seconds);
        break;
      }
      case 90:
        this.absolute = true;
        break;
      case 91:
        this.absolute = false;
        break;
      case 92: {
        const u = this.units;
        if ((mask & X_BIT) !== 0) this.x = v[23]! * u;
        if ((mask & Y_BIT) !== 0) this.y = v[24]! * u;
        if ((mask & Z_BIT) !== 0) this.z = v[25]! * u;
        if ((mask & E_BIT) !== 0) this.e = v[4]! * u;
        else this.planner.synchronize(0);
        break;
      }
    }
  }

  private firmwareRetract(length: number, speed: number, offset: number): void {
    const saved = this.feedrate;
    this.feedrate = speed;
    this.planner.move(0, 0, 0, length, speed, MOVE_RETRACT, offset);
    this.moves++;
    this.feedrate = saved;
  }

  private mcode(line: LexedLine, buf: Uint8Array, offset: number, after: number): void {
    const mask = line.mask;
    const v = line.values;
    const p = this.planner;
    const has = (b: number) => (mask & b) !== 0;
    // Limits, speeds and lengths are never negative: a negative one (a typo) is ignored as the firmware would refuse it.
    const hasLimit = (b: number, index: number) => (mask & b) !== 0 && v[index]! >= 0;
    switch (line.code) {
      case 82:
        this.relativeE = false;
        break;
      case 83:
        this.relativeE = true;
        break;
      case 109:
      case 190:
      case 191: {
        const target = has(S_BIT) ? v[18]! : has(R_BIT) ? v[17]! : NaN;
        if (Number.isFinite(target) && target > 0) {
          const heater = line.code === 109 ? "tool" : line.code === 190 ? "bed" : "chamber";
          this.heatWaits.push({ heater, tool: heater === "tool" ? (has(T_BIT) ? v[19]! : this.tool) : 0, target, offset });
        }
        break;
      }
      case 201: {
        const u = this.units;
        if (hasLimit(X_BIT, 23)) p.maxAxisAcceleration[0] = v[23]! * u;
        if (hasLimit(Y_BIT, 24)) p.maxAxisAcceleration[1] = v[24]! * u;
        if (hasLimit(Z_BIT, 25)) p.maxAxisAcceleration[2] = v[25]! * u;
        if (hasLimit(E_BIT, 4)) p.maxAxisAcceleration[3] = v[4]! * u;
        break;
      }
      case 203: {
        const f = this.feedratesPerMinute ? 1 / 60 : 1;
        if (hasLimit(X_BIT, 23)) p.maxFeedrate[0] = v[23]! * f;
        if (hasLimit(Y_BIT, 24)) p.maxFeedrate[1] = v[24]! * f;
        if (hasLimit(Z_BIT, 25)) p.maxFeedrate[2] = v[25]! * f;
        if (hasLimit(E_BIT, 4)) p.maxFeedrate[3] = v[4]! * f;
        break;
      }
      case 204:
        if (has(S_BIT)) {
          // Legacy form: S sets print and travel acceleration (and T the retraction).
          if (hasLimit(S_BIT, 18)) {
            p.setPrintAcceleration(v[18]!);
            p.setTravelAcceleration(v[18]!);
          }
          if (hasLimit(T_BIT, 19)) p.setRetractAcceleration(v[19]!);
        } else {
          if (hasLimit(P_BIT, 15)) p.setPrintAcceleration(v[15]!);
          if (hasLimit(R_BIT, 17)) p.setRetractAcceleration(v[17]!);
          if (hasLimit(T_BIT, 19)) p.setTravelAcceleration(v[19]!);
        }
        break;
      case 205:
        if (hasLimit(X_BIT, 23)) {
          p.maxJerk[0] = v[23]!;
          p.maxJerk[1] = v[23]!;
        }
        if (hasLimit(Y_BIT, 24)) p.maxJerk[1] = v[24]!;
        if (hasLimit(Z_BIT, 25)) p.maxJerk[2] = v[25]!;
        if (hasLimit(E_BIT, 4)) p.maxJerk[3] = v[4]!;
        if (hasLimit(S_BIT, 18)) p.minExtrudingRate = v[18]!;
        if (hasLimit(T_BIT, 19)) p.minTravelRate = v[19]!;
        if (hasLimit(J_BIT, 9)) p.junctionDeviation = v[9]!;
        break;
      case 207:
        if (has(S_BIT)) this.retractLength = v[18]!;
        if (hasLimit(F_BIT, 5) && v[5]! > 0) this.retractSpeed = v[5]! / 60;
        // Z (a hop on each retraction) is not timed.
        break;
      case 208:
        if (has(S_BIT)) this.recoverExtra = v[18]!;
        if (hasLimit(F_BIT, 5) && v[5]! > 0) this.recoverSpeed = v[5]! / 60;
        break;
      case 220:
        if (has(B_BIT)) p.savedSpeedFactor = p.speedFactor;
        if (has(R_BIT)) p.speedFactor = p.savedSpeedFactor;
        if (has(S_BIT) && v[18]! > 0) p.speedFactor = v[18]! / 100;
        break;
      case 221:
        if (has(S_BIT) && v[18]! > 0) p.extrudeFactor = v[18]! / 100;
        break;
      case 400:
        p.synchronize(0);
        break;
      case 486:
        this.m486(line, buf, offset, after);
        break;
      case 566: {
        // RepRapFirmware jerk, mm/min.
        if (hasLimit(X_BIT, 23)) p.maxJerk[0] = v[23]! / 60;
        if (hasLimit(Y_BIT, 24)) p.maxJerk[1] = v[24]! / 60;
        if (hasLimit(Z_BIT, 25)) p.maxJerk[2] = v[25]! / 60;
        if (hasLimit(E_BIT, 4)) p.maxJerk[3] = v[4]! / 60;
        break;
      }
      case 600:
        this.colorChanges++;
        break;
      case 702:
        // MMU2: "M702 C" unloads the active filament into the unit at the end of a print.
        if (has(C_BIT)) {
          this.unloaded = true;
          p.synchronize(this.unloadTimes[this.tool] ?? 0);
        }
        break;
    }
  }

  private toolChange(tool: number): void {
    if (tool === this.tool || tool > 255) return;
    const extra = (this.unloaded ? 0 : (this.unloadTimes[this.tool] ?? 0)) + (this.loadTimes[tool] ?? 0);
    this.unloaded = false;
    this.tool = tool;
    if (this.filament[tool] === undefined) for (let t = this.filament.length; t <= tool; t++) this.filament[t] = 0;
    this.toolChanges++;
    this.planner.synchronize(extra);
  }

  /** M486: Marlin/Prusa object labels (T count, S index or -1, A name). */
  private m486(line: LexedLine, buf: Uint8Array, offset: number, after: number): void {
    const has = (b: number) => (line.mask & b) !== 0;
    const source = text(buf, line.start, line.comment >= 0 ? line.comment - 1 : line.end);
    const name = /A\s*"?([^"]*?)"?\s*$/.exec(source)?.[1];
    if (has(S_BIT)) {
      const index = line.values[18]!;
      if (index < 0) this.closeObject(after);
      else {
        if (has(A_BIT) && name) this.m486Names.set(index, name);
        this.openObject(this.m486Names.get(index) ?? `object ${index}`, "m486", offset);
        this.current!.object.index = index;
      }
    } else if (has(A_BIT) && name && this.current?.object.source === "m486") {
      this.current.object.name = name;
    }
  }

  /** Klipper-style word commands: EXCLUDE_OBJECT_*. */
  private word(buf: Uint8Array, start: number, end: number, offset: number, after: number): void {
    if (!bytesAt(buf, start, end, "EXCLUDE_OBJECT")) {
      // A macro call is a name and KEY=value pairs; prose ("Lorem ipsum, …") is not G-code.
      const source = text(buf, start, end);
      if (!WORD_COMMAND.test(source)) this.garbage(buf, start, end, offset);
      else this.macro(source);
      return;
    }
    const source = text(buf, start, end);
    const name = /NAME=("([^"]*)"|(\S+))/i.exec(source);
    const objName = name ? (name[2] ?? name[3]!) : undefined;
    if (source.startsWith("EXCLUDE_OBJECT_START") && objName) this.openObject(objName, "exclude_object", offset);
    else if (source.startsWith("EXCLUDE_OBJECT_END")) this.closeObject(after);
    else if (source.startsWith("EXCLUDE_OBJECT_DEFINE") && objName) {
      const state = this.objectState(objName, "exclude_object");
      const center = /CENTER=([-\d.]+),([-\d.]+)/i.exec(source);
      if (center) state.object.center = [Number(center[1]), Number(center[2])];
      const polygon = /POLYGON=(\[\[.*\]\])/i.exec(source);
      if (polygon) {
        try {
          const points = JSON.parse(polygon[1]!) as unknown;
          if (Array.isArray(points)) state.object.polygon = points.filter((pt): pt is [number, number] => Array.isArray(pt) && pt.length >= 2).map((pt) => [Number(pt[0]), Number(pt[1])]);
        } catch {
          // A malformed polygon is not worth failing the analysis for.
        }
      }
    }
  }

  /** Notes the name a macro call uses (not RepRapFirmware's meta commands, which share the form). */
  private macro(source: string): void {
    if (this.macros.length >= MAX_MACROS) return;
    const name = /^\S+/.exec(source)![0];
    const key = name.toLowerCase();
    if (RRF_META_COMMANDS.has(key) || this.macros.some((m) => m.toLowerCase() === key)) return;
    this.macros.push(name);
  }

  private objectState(name: string, source: PrintObject["source"]): ObjectState {
    let state = this.objectByName.get(name);
    if (!state) {
      state = { object: { name, source, box: null, ranges: [], filament: 0 }, box: emptyBox() };
      this.objectByName.set(name, state);
      this.objects.push(state);
    }
    return state;
  }

  private openObject(name: string, source: PrintObject["source"], offset: number): void {
    if (this.current) this.closeObject(offset);
    this.current = this.objectState(name, source);
    this.currentStart = offset;
  }

  private closeObject(end: number): void {
    if (!this.current) return;
    if (end > this.currentStart) this.current.object.ranges.push([this.currentStart, end]);
    this.current = null;
  }

  /** Comments the analyser cares about; all others are skipped after a byte or two. */
  private comment(buf: Uint8Array, at: number, end: number, offset: number, after: number): void {
    if (this.thumb) {
      this.thumbnailLine(buf, at, end);
      return;
    }
    const i = skipBlanks(buf, at, end);
    const c = buf[i];
    switch (c) {
      case 76: // L
        if (bytesAt(buf, i, end, "LAYER_CHANGE") || bytesAt(buf, i, end, "LAYER:")) this.layerMarker(offset);
        break;
      case 67: // C
        if (bytesAt(buf, i, end, "CHANGE_LAYER")) this.layerMarker(offset);
        else if (bytesAt(buf, i, end, "CP TOOLCHANGE ")) this.towerPhase(buf, i + 14, end);
        break;
      case 108: // l: Simplify3D "; layer 2, Z = 0.4"
        if (bytesAt(buf, i, end, "layer ") && buf[i + 6]! >= 48 && buf[i + 6]! <= 57 && at === i - 1) this.layerMarker(offset);
        break;
      case 84: // T: ";TYPE:Perimeter" (PrusaSlicer family), ";TYPE:WALL-OUTER" (Cura)
        if (bytesAt(buf, i, end, "TYPE:")) this.setRole(text(buf, i + 5, end));
        break;
      case 87: // W
        if (bytesAt(buf, i, end, "WIPE_START")) this.wiping = true;
        else if (bytesAt(buf, i, end, "WIPE_END")) this.wiping = false;
        break;
      case 112: // p: "; printing object NAME"
        if (bytesAt(buf, i, end, "printing object ")) this.openObject(text(buf, i + 16, end), "comment", offset);
        break;
      case 115: // s: "; stop printing object NAME"
        if (bytesAt(buf, i, end, "stop printing object")) this.closeObject(after);
        break;
      case 77: // M: Cura ";MESH:name"
        if (bytesAt(buf, i, end, "MESH:")) {
          const name = text(buf, i + 5, end);
          if (name === "NONMESH") this.closeObject(offset);
          else this.openObject(name, "cura", offset);
        }
        break;
      case 80: // P: ideaMaker ";PRINTING: name"
        if (bytesAt(buf, i, end, "PRINTING:")) {
          const name = text(buf, skipBlanks(buf, i + 9, end), end);
          if (name) this.openObject(name, "ideamaker", offset);
        }
        break;
      case 116: // t: "; thumbnail[_JPG|_QOI] begin 160x120 21740"
        if (bytesAt(buf, i, end, "thumbnail")) this.thumbnailStart(text(buf, i, end));
        break;
    }
  }

  /** `; CP TOOLCHANGE UNLOAD|LOAD|WIPE|END` (START changes nothing: travel and speed settings follow). */
  private towerPhase(buf: Uint8Array, at: number, end: number): void {
    if (bytesAt(buf, at, end, "UNLOAD")) this.tower = TOWER_RAMMING;
    else if (bytesAt(buf, at, end, "LOAD")) this.tower = TOWER_SHUTTLE;
    else if (bytesAt(buf, at, end, "WIPE") || bytesAt(buf, at, end, "END")) this.tower = TOWER_NONE;
  }

  private setRole(name: string): void {
    let index = this.roleNames.indexOf(name);
    if (index < 0) {
      if (this.roleNames.length >= 64) return; // not a feature type, but something generating names
      index = this.roleNames.push(name) - 1;
      this.roleFilament.push(0);
      if (name === "Custom") this.customRole = index;
    }
    this.role = index;
  }

  private thumbnailStart(line: string): void {
    const m = /^thumbnail(?:_(PNG|JPG|QOI))? begin (\d+)x(\d+) (\d+)/.exec(line);
    if (!m || this.thumbnailChars > MAX_THUMBNAIL_CHARS) return;
    this.thumb = { format: (m[1] as RawThumbnail["format"]) ?? "PNG", width: Number(m[2]), height: Number(m[3]), declared: Number(m[4]), parts: [] };
  }

  private thumbnailLine(buf: Uint8Array, at: number, end: number): void {
    const thumb = this.thumb!;
    const i = skipBlanks(buf, at, end);
    if (bytesAt(buf, i, end, "thumbnail") && /^thumbnail(_\w+)? end/.test(text(buf, i, end))) {
      this.thumbnails.push({ format: thumb.format, width: thumb.width, height: thumb.height, declaredLength: thumb.declared, base64: thumb.parts.join("") });
      this.thumb = null;
      return;
    }
    const part = text(buf, i, end);
    thumb.parts.push(part);
    this.thumbnailChars += part.length;
    // A block far longer than declared is not a thumbnail, and past the budget none is kept: stop collecting.
    if (thumb.parts.length * 80 > thumb.declared + 100_000 || this.thumbnailChars > MAX_THUMBNAIL_CHARS) this.thumb = null;
  }
}
