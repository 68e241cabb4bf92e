/**
 * One layer of a G-code file as lines to draw: the extrusions per tool and the travel moves, seen
 * from above, with the file offset where each point is reached (so a print's progress can split
 * a layer into what was sent and what was not). Pure: bytes and the machine state where they
 * start (from the analysis, `LayerStart`) in, polylines out; never throws on any input.
 *
 * It reads moves as the analyser does (the same lexer, the same arc chords, the same rules for
 * G90/G91, M82/M83, G92, G20/G21, G28, and what counts as printing: E forward with X/Y motion), so
 * a layer drawn here covers exactly what the analysis measured. Firmware retraction (G10/G11)
 * moves nothing in X/Y. Lines with a number no printer could mean are skipped whole, as there.
 *
 * Example: `parseToolpath([{ bytes, offset: 0, resync: false, final: true }], INITIAL_STATE)`
 * of "G1 X10 Y10\nG1 X20 E1\n" is one travel (0,0)→(10,10) and one extrusion (10,10)→(20,10).
 */
import { arcPoint } from "../analysis/arcs.ts";
import { E_BIT, G, LexedLine, lex, M, T, X_BIT, Y_BIT, Z_BIT } from "../analysis/lexer.ts";
import { MoveState } from "../analysis/moves.ts";
import type { LayerStart } from "../analysis/result.ts";

const NL = 10;
/** Coordinates beyond ±this many mm are drawn at it (a hostile X1e8 stays a short number in the SVG). */
export const CLAMP_MM = 10_000;
/**
 * Points held while reading before the reader thins what it has (every other point of each
 * polyline, and from then on one of every `stride` new ones): a layer of 100,000 full circles
 * cannot fill the memory or keep the main thread busy.
 */
const RAW_POINTS = 200_000;

/** Where a file starts: the firmware's state after power-on. */
export const INITIAL_STATE: LayerStart = { x: 0, y: 0, z: 0, e: 0, absolute: true, relativeE: false, inches: false, tool: 0 };

export interface Polyline {
  tool: number;
  /** x0, y0, x1, y1, … in mm (clamped to ±CLAMP_MM). */
  xy: number[];
  /** For each point after the first, the file offset just past the line that reached it. */
  ends: number[];
}

export interface Box2 {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

export interface Toolpath {
  extrusions: Polyline[];
  travels: Polyline[];
  /** The extent of the extrusions, or null when nothing is extruded. */
  box: Box2 | null;
  /** Tools that extruded, ascending. */
  tools: number[];
  /** Points read (before any thinning or decimation), and whether some were left out. */
  points: number;
  decimated: boolean;
  /** The machine state after the last line read. */
  end: LayerStart;
}

/** Bytes of the file from `offset`. */
export interface Window {
  bytes: Uint8Array;
  offset: number;
  /**
   * The window starts at a byte that may be mid-line, after bytes not read (a sample of a huge
   * layer): its first partial line is skipped and nothing is drawn until an absolute move names
   * both X and Y again (and, with absolute E, until an E word says where E is). A layer printed
   * in G91 is drawn only from its start.
   */
  resync: boolean;
  /** The window ends where the file (or the layer) ends: a last line without a newline counts. */
  final: boolean;
}

const clamp = (v: number) => (v > CLAMP_MM ? CLAMP_MM : v < -CLAMP_MM ? -CLAMP_MM : v);

/** Reads windows of a file in order, starting in state `start`. */
export function parseToolpath(windows: Window[], start: LayerStart): Toolpath {
  const reader = new ToolpathReader(start);
  for (const w of windows) reader.read(w);
  return reader.result();
}

class ToolpathReader extends MoveState {
  private readonly line = new LexedLine();
  /** Until the position is known again after a gap (see `Window.resync`). */
  private lostXY = false;
  private lostE = false;

  private readonly extrusions: Polyline[] = [];
  private readonly travels: Polyline[] = [];
  /** The polyline the next segment continues, if it starts where that one ends. */
  private open: Polyline | null = null;
  private openIsTravel = false;
  private total = 0;
  private segments = 0;
  /** Keep one of every `stride` points added to an open polyline (1 until thinned), counting in `skipped`. */
  private stride = 1;
  private skipped = 0;
  private thinned = false;
  private readonly box = { minX: Infinity, maxX: -Infinity, minY: Infinity, maxY: -Infinity };
  private readonly tools = new Set<number>();

  constructor(start: LayerStart) {
    super();
    this.restore(start);
  }

  read(w: Window): void {
    const buf = w.bytes;
    let i = 0;
    if (w.resync) {
      const nl = buf.indexOf(NL);
      if (nl < 0) return;
      i = nl + 1;
      this.lostXY = true;
      this.lostE = !(this.relativeE || !this.absolute);
      this.open = null;
    }
    while (i < buf.length) {
      let nl = buf.indexOf(NL, i);
      if (nl < 0) {
        if (!w.final) return; // a line cut by the window's end
        nl = buf.length;
      }
      this.lineAt(buf, i, nl, w.offset + Math.min(nl + 1, buf.length));
      i = nl + 1;
    }
  }

  private lineAt(buf: Uint8Array, start: number, end: number, after: number): void {
    const line = this.line;
    lex(buf, start, end, line);
    const letter = line.letter;
    if (line.outOfRange && (letter === G || letter === T || (letter === M && line.code !== 117 && line.code !== 118))) return;
    if (letter === G) {
      const code = line.code;
      if (code === 0 || code === 1) this.linear(line, after);
      else if (code === 2 || code === 3) this.arc(line, after, code === 2);
      else this.gcode(line, after);
    } else if (letter === M) {
      if (line.code === 82) this.relativeE = false;
      else if (line.code === 83) this.relativeE = true;
    } else if (letter === T && line.code <= 255) this.tool = line.code;
  }

  /** A G0–G3 line's target (`tx`…) and E distance; null when it only tells where the head is after a gap (nothing drawn). */
  private move(line: LexedLine): number | null {
    const mask = line.mask;
    this.target(line);
    let de = (mask & E_BIT) !== 0 ? this.extrusion(line.values[4]! * this.units) : 0;
    if (this.lostE && (mask & E_BIT) !== 0) {
      // The first absolute E after a gap only says where E is.
      this.lostE = false;
      de = 0;
    }
    if (!this.lostXY) return de;
    this.x = this.tx;
    this.y = this.ty;
    this.z = this.tz;
    if (this.absolute && (mask & X_BIT) !== 0 && (mask & Y_BIT) !== 0) this.lostXY = false;
    return null;
  }

  private linear(line: LexedLine, after: number): void {
    const de = this.move(line);
    if (de === null) return;
    this.segment(this.tx, this.ty, de, after);
    this.z = this.tz;
  }

  private arc(line: LexedLine, after: number, clockwise: boolean): void {
    const de = this.move(line);
    if (de === null) return;
    const { tx, ty, tz } = this;
    const planned = this.arcTo(line, clockwise);
    // Once thinned, fewer chords: they would be thinned away anyway.
    const plan = planned && { ...planned, segments: Math.max(1, Math.ceil(planned.segments / this.stride)) };
    const chords = plan ? plan.segments : 1;
    for (let s = 1; s <= chords; s++) {
      const [px, py] = s === chords || !plan ? [tx, ty] : arcPoint(plan, s);
      this.segment(px, py, de / chords, after);
    }
    this.z = tz;
  }

  /** G codes other than moves. */
  private gcode(line: LexedLine, after: number): void {
    const mask = line.mask;
    const v = line.values;
    const u = this.units;
    switch (line.code) {
      case 20:
      case 21:
        this.inches(line.code === 20);
        return;
      case 28: {
        // Homing ends at 0 on the named axes (all when none is named): a travel there.
        const any = (mask & (X_BIT | Y_BIT | Z_BIT)) !== 0;
        const nx = !any || (mask & X_BIT) !== 0 ? 0 : this.x;
        const ny = !any || (mask & Y_BIT) !== 0 ? 0 : this.y;
        if (!any || (mask & Z_BIT) !== 0) this.z = 0;
        if (!this.lostXY) this.segment(nx, ny, 0, after);
        else if (!any || ((mask & X_BIT) !== 0 && (mask & Y_BIT) !== 0)) this.lostXY = false;
        this.x = nx;
        this.y = ny;
        return;
      }
      case 90:
        this.absolute = true;
        return;
      case 91:
        this.absolute = false;
        return;
      case 92:
        if ((mask & X_BIT) !== 0) this.x = v[23]! * u;
        if ((mask & Y_BIT) !== 0) this.y = v[24]! * u;
        if ((mask & Z_BIT) !== 0) this.z = v[25]! * u;
        if ((mask & E_BIT) !== 0) {
          this.e = v[4]! * u;
          this.lostE = false;
        }
        return;
      // G10/G11 (firmware retraction) and everything else move nothing in X/Y.
    }
  }

  /** A straight move in X/Y to (nx, ny) pushing `de` mm of filament; the line ends at `after`. */
  private segment(nx: number, ny: number, de: number, after: number): void {
    const x0 = this.x;
    const y0 = this.y;
    this.x = nx;
    this.y = ny;
    if (x0 === nx && y0 === ny) return;
    const print = de > 0;
    const ax = clamp(x0);
    const ay = clamp(y0);
    const bx = clamp(nx);
    const by = clamp(ny);
    if (print) {
      const b = this.box;
      if (ax < b.minX) b.minX = ax;
      if (ax > b.maxX) b.maxX = ax;
      if (ay < b.minY) b.minY = ay;
      if (ay > b.maxY) b.maxY = ay;
      if (bx < b.minX) b.minX = bx;
      if (bx > b.maxX) b.maxX = bx;
      if (by < b.minY) b.minY = by;
      if (by > b.maxY) b.maxY = by;
      this.tools.add(this.tool);
    }
    this.segments++;
    const open = this.open;
    if (open && this.openIsTravel === !print && open.tool === this.tool) {
      const n = open.xy.length;
      if (open.xy[n - 2] === ax && open.xy[n - 1] === ay) {
        // Continues the open polyline; once thinned, most points only move its end.
        if (this.stride > 1 && n >= 4 && ++this.skipped < this.stride) {
          open.xy[n - 2] = bx;
          open.xy[n - 1] = by;
          open.ends[open.ends.length - 1] = after;
          return;
        }
        this.skipped = 0;
        open.xy.push(bx, by);
        open.ends.push(after);
        if (++this.total > RAW_POINTS) this.thin();
        return;
      }
    }
    const fresh: Polyline = { tool: this.tool, xy: [ax, ay, bx, by], ends: [after] };
    (print ? this.extrusions : this.travels).push(fresh);
    this.open = fresh;
    this.openIsTravel = !print;
    this.skipped = 0;
    this.total += 2;
    if (this.total > RAW_POINTS) this.thin();
  }

  /** Drops every other inner point of every polyline; from now on keeps fewer new ones. */
  private thin(): void {
    this.thinned = true;
    this.stride *= 2;
    let total = 0;
    for (const list of [this.extrusions, this.travels]) {
      for (const p of list) {
        const kept = keepEvery(p, 2);
        p.xy = kept.xy;
        p.ends = kept.ends;
        total += p.xy.length / 2;
      }
    }
    this.total = total;
  }

  result(): Toolpath {
    const b = this.box;
    return {
      extrusions: this.extrusions,
      travels: this.travels,
      box: b.minX === Infinity ? null : { ...b },
      tools: [...this.tools].sort((p, q) => p - q),
      points: this.segments + this.extrusions.length + this.travels.length,
      decimated: this.thinned,
      end: this.state(),
    };
  }
}

/** The polyline with its first and last point and every `k`-th between (each kept point keeps its own end offset). */
function keepEvery(p: Polyline, k: number): Pick<Polyline, "xy" | "ends"> {
  const n = p.xy.length / 2;
  if (n <= 2 || k <= 1) return p;
  const xy = [p.xy[0]!, p.xy[1]!];
  const ends: number[] = [];
  for (let i = 1; i < n; i++) {
    if (i % k !== 0 && i !== n - 1) continue;
    xy.push(p.xy[2 * i]!, p.xy[2 * i + 1]!);
    ends.push(p.ends[i - 1]!);
  }
  return { xy, ends };
}

/** Points in polylines. */
export function pointCount(lines: Polyline[]): number {
  let n = 0;
  for (const p of lines) n += p.xy.length / 2;
  return n;
}

function pathLength(p: Polyline): number {
  let l = 0;
  for (let i = 2; i < p.xy.length; i += 2) l += Math.hypot(p.xy[i]! - p.xy[i - 2]!, p.xy[i + 1]! - p.xy[i - 1]!);
  return l;
}

/**
 * At most `max` points (`max` ≥ 2): first every k-th inner point of each polyline, then, if many
 * short polylines still hold too many, the longest ones that fit (small details go first).
 */
export function decimateLines(lines: Polyline[], max: number): { lines: Polyline[]; decimated: boolean } {
  let total = pointCount(lines);
  if (total <= max) return { lines, decimated: false };
  const k = Math.ceil(total / max);
  let out = lines.map((p) => ({ tool: p.tool, ...keepEvery(p, k) }));
  total = pointCount(out);
  if (total > max) {
    const byLength = out.map((p, i) => ({ p, i, length: pathLength(p) })).sort((a, b) => b.length - a.length);
    const kept: { p: Polyline; i: number }[] = [];
    let n = 0;
    for (const c of byLength) {
      const size = c.p.xy.length / 2;
      if (n + size > max) continue;
      kept.push(c);
      n += size;
    }
    // In file order again, so what was sent first is drawn first.
    out = kept.sort((a, b) => a.i - b.i).map((c) => c.p);
  }
  return { lines: out, decimated: true };
}

/** The toolpath with at most `extrusions` and `travels` points of each kind. */
export function decimate(path: Toolpath, extrusions: number, travels: number): Toolpath {
  const e = decimateLines(path.extrusions, extrusions);
  const t = decimateLines(path.travels, travels);
  return { ...path, extrusions: e.lines, travels: t.lines, decimated: path.decimated || e.decimated || t.decimated };
}
