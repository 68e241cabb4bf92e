/**
 * The bookkeeping of one job inside a printer's Worker, beside the link: the machine state the
 * file's lines leave behind, the objects cancelled, the time spent paused and heating, the line
 * and layer the printer has acknowledged, the time left, and what a checkpoint holds. The
 * controller tells it what was fed and acknowledged (time passed in); everything per line is a
 * few comparisons, so the serial path stays fast.
 */
import type { SourceLine } from "./gcode-source.ts";
import { MachineTracker, type MachineSnapshot } from "../jobs/machine-state.ts";
import { ObjectFilter } from "../jobs/object-filter.ts";
import type { Checkpoint, JobPlan, ResumeFrom } from "../jobs/plan.ts";
import { TimeLeftEstimator, type PaceTable } from "../jobs/time-left.ts";
import type { PauseRecord, Progress } from "./status.ts";

/** Layer-start states kept for checkpoints (the feed runs at most a window ahead of the acks). */
const LAYER_STATES_KEPT = 8;
/**
 * Moves a printer holds acknowledged but not yet done: Marlin's planner buffer (16 blocks) and
 * command buffer (4 lines). The time left counts from the move being done, this far behind the
 * last acknowledged one, so the moves still queued in the printer are not forgotten.
 */
const QUEUED_MOVES = 20;

export interface JobRunOptions {
  size: number;
  /** Host seconds per printer second before the pace is known (the virtual printer's 1/timeScale). */
  scale: number;
  /** Monotonic ms now (the job's start). */
  now: number;
  from?: ResumeFrom;
  /** Seconds the job had printed before this run took it over (a restarted thread going on with it). */
  printedBefore?: number;
}

export class JobRun {
  readonly tracker = new MachineTracker();
  filter: ObjectFilter;
  private estimator: TimeLeftEstimator;
  private readonly startMs: number;
  private pausedSince: number | undefined;
  private pausedTotal = 0;
  private heatingMs = 0;
  private lastAckAt: number;
  /**
   * Rows of the timeline the pace is not learnt from: the one a heat-up wait or a pause falls in,
   * and the next (the printer's queue, drained meanwhile, fills again then).
   */
  private unsettledRows = 0;
  /** (end offset, line number) of lines fed and not yet acknowledged, as a growing ring. */
  private ringEnd = new Float64Array(256);
  private ringLine = new Float64Array(256);
  /** 1 for a move (G0–G3). */
  private ringMove = new Uint8Array(256);
  /** Ends of the last QUEUED_MOVES moves acknowledged (a ring; the oldest at `movesHead`). */
  private readonly movesAcked = new Float64Array(QUEUED_MOVES);
  private movesHead = 0;
  private movesCount = 0;
  private ringHead = 0;
  private ringTail = 0;
  /** Ends of fed lines that wait for heaters, and `M73 R` lines, not yet acknowledged. */
  private heatWaits: number[] = [];
  private slicerMarks: [offset: number, minutes: number][] = [];
  /** The line the printer acknowledged last. */
  ackedLine: number;
  /** Layer index acknowledged (-1 before the first layer) and where the next one starts. */
  layerIndex = -1;
  private nextLayerAt: number;
  /** The same on the feeding side, and the machine state at each fed layer's start. */
  private feedLayer = -1;
  private feedNextLayerAt: number;
  private readonly layerStates = new Map<number, MachineSnapshot>();

  constructor(
    public plan: JobPlan,
    private readonly options: JobRunOptions,
  ) {
    this.filter = new ObjectFilter(plan.objects);
    this.estimator = this.newEstimator(plan);
    this.startMs = options.now;
    this.movesAcked.fill(options.from?.offset ?? 0);
    this.lastAckAt = options.now;
    const from = options.from;
    this.ackedLine = from ? from.line - 1 : 0;
    if (from) {
      this.tracker.restore(from.state);
      for (const name of from.cancelled) this.filter.cancel(name, from.offset);
      // Layers that started before the offset are behind us.
      while (this.feedLayer + 1 < plan.layers.length && plan.layers[this.feedLayer + 1]!.offset < from.offset) this.feedLayer++;
      this.layerIndex = this.feedLayer;
      if (this.feedLayer >= 0) this.layerStates.set(this.feedLayer, from.state);
      // The resumed layer's own start is the offset itself.
      if (plan.layers[this.feedLayer + 1]?.offset === from.offset) {
        this.feedLayer++;
        this.layerIndex = this.feedLayer;
        this.layerStates.set(this.feedLayer, from.state);
      }
    }
    this.nextLayerAt = plan.layers[this.layerIndex + 1]?.offset ?? Infinity;
    this.feedNextLayerAt = plan.layers[this.feedLayer + 1]?.offset ?? Infinity;
    if (from) this.estimator.rowReached(from.offset, 0);
  }

  private newEstimator(plan: JobPlan): TimeLeftEstimator {
    const o = this.options;
    return new TimeLeftEstimator({ pace: plan.pace, slicerTotal: plan.slicerTotal, average: plan.average, scale: o.scale, size: o.size });
  }

  /**
   * The plan of an SD print, known once the main thread has matched the card's file with one of
   * its own (moments after the start): its objects, layers and estimate from then on.
   */
  adopt(plan: JobPlan): void {
    this.plan = plan;
    this.filter = new ObjectFilter(plan.objects);
    this.estimator = this.newEstimator(plan);
    this.nextLayerAt = plan.layers[this.layerIndex + 1]?.offset ?? Infinity;
  }

  /**
   * The file's analysis re-planned for this printer (its own machine limits): the time figures
   * change, the file does not. False when the table does not fit this file's.
   */
  replacePace(pace: PaceTable | null): boolean {
    if (!this.estimator.replacePace(pace)) return false;
    this.plan = { ...this.plan, pace };
    return true;
  }

  /** Whether the job is paused now (pauses do not count as printing time). */
  get paused(): boolean {
    return this.pausedSince !== undefined;
  }

  pause(now: number): void {
    this.pausedSince ??= now;
  }

  resume(now: number): void {
    if (this.pausedSince === undefined) return;
    this.pausedTotal += now - this.pausedSince;
    this.pausedSince = undefined;
    this.lastAckAt = now;
    this.unsettledRows = 2;
  }

  /** Seconds printing so far, pauses excluded. */
  printSeconds(now: number): number {
    return (this.options.printedBefore ?? 0) + this.runSeconds(now);
  }

  /** Seconds printing in this run. */
  private runSeconds(now: number): number {
    const paused = this.pausedTotal + (this.pausedSince !== undefined ? now - this.pausedSince : 0);
    return Math.max(0, (now - this.startMs - paused) / 1000);
  }

  /** Printing seconds (of this run: the estimate learns from its start) less the time spent waiting for heaters. */
  private activeSeconds(now: number): number {
    return Math.max(0, this.runSeconds(now) - this.heatingMs / 1000);
  }

  /** A line of the file on its way to the printer: the lines to send instead (null: as it is). */
  fed(line: SourceLine): string[] | null {
    const t = this.tracker;
    while (line.end > this.feedNextLayerAt) {
      this.feedLayer++;
      this.layerStates.set(this.feedLayer, t.snapshot());
      this.layerStates.delete(this.feedLayer - LAYER_STATES_KEPT);
      this.feedNextLayerAt = this.plan.layers[this.feedLayer + 1]?.offset ?? Infinity;
    }
    t.apply(line.command);
    if (t.heatWait) this.heatWaits.push(line.end);
    if (t.hasM73Left) this.slicerMarks.push([line.end, t.m73Left]);
    this.ringPush(line.end, line.line, t.motion);
    return this.filter.active ? this.filter.filter(line.command, line.end, t) : null;
  }

  /** The printer acknowledged the job's lines up to byte `offset`; true when a layer began. */
  acked(offset: number, now: number): boolean {
    while (this.ringHead !== this.ringTail && this.ringEnd[this.ringHead]! <= offset) {
      this.ackedLine = this.ringLine[this.ringHead]!;
      if (this.ringMove[this.ringHead]) {
        this.movesAcked[this.movesHead] = this.ringEnd[this.ringHead]!;
        this.movesHead = (this.movesHead + 1) % QUEUED_MOVES;
        this.movesCount++;
      }
      this.ringHead = (this.ringHead + 1) % this.ringEnd.length;
    }
    if (this.heatWaits.length > 0 && this.heatWaits[0]! <= offset) {
      // Acknowledged only once the heaters are there: the time since the line before is heating.
      while (this.heatWaits.length > 0 && this.heatWaits[0]! <= offset) this.heatWaits.shift();
      this.heatingMs += now - this.lastAckAt;
      this.unsettledRows = 2;
    }
    this.lastAckAt = now;
    while (this.slicerMarks.length > 0 && this.slicerMarks[0]![0] <= offset) {
      const [at, minutes] = this.slicerMarks.shift()!;
      this.estimator.slicerProgress(at, minutes, this.activeSeconds(now));
    }
    return this.reached(offset, now);
  }

  /**
   * The job's lines up to `offset` were fed and acknowledged under a thread before this one (it
   * was stopped, and this run took the job over): taken as done, nothing learnt of the pace.
   */
  tookOver(offset: number, now: number): boolean {
    this.unsettledRows = 2;
    return this.acked(offset, now);
  }

  /** An SD print's position, from the firmware: rows and layers as for acknowledged lines. */
  sdPosition(offset: number, now: number): boolean {
    this.lastAckAt = now;
    return this.reached(offset, now);
  }

  /**
   * Where the printer is done up to, as far as the host can tell: QUEUED_MOVES moves behind the
   * last acknowledged (an SD print's position, read by the firmware, is taken as it is).
   */
  private doneOffset(acked: number): number {
    return this.movesCount === 0 ? acked : Math.min(acked, this.movesAcked[this.movesHead]!);
  }

  private reached(offset: number, now: number): boolean {
    const done = this.doneOffset(offset);
    if (done >= this.estimator.nextRowOffset()) {
      this.estimator.rowReached(done, this.activeSeconds(now), this.unsettledRows === 0);
      if (this.unsettledRows > 0) this.unsettledRows--;
    }
    if (offset < this.nextLayerAt) return false;
    const layers = this.plan.layers;
    while (this.layerIndex + 1 < layers.length && layers[this.layerIndex + 1]!.offset <= offset) this.layerIndex++;
    this.nextLayerAt = layers[this.layerIndex + 1]?.offset ?? Infinity;
    return true;
  }

  /** The layer being printed, for the status. */
  layer(): { current: number; count: number; z: number } | null {
    const l = this.plan.layers[this.layerIndex];
    return l ? { current: this.layerIndex + 1, count: this.plan.layers.length, z: l.z } : null;
  }

  /** Progress for the status: by bytes, lines and time. */
  progress(offset: number, size: number, linesSent: number, now: number, done = false): Progress {
    const printTime = Math.round(this.printSeconds(now));
    const left = done ? { seconds: 0, origin: null } : this.estimator.estimate(this.doneOffset(offset), this.activeSeconds(now));
    return {
      completion: size > 0 ? Math.min(100, (offset / size) * 100) : 100,
      bytesSent: offset,
      bytesTotal: size,
      linesSent,
      line: this.ackedLine,
      lines: this.plan.lines,
      printTime,
      timeLeft: left ? Math.round(left.seconds) : null,
      timeLeftOrigin: left?.origin ?? null,
      filament: Math.round(this.tracker.extruded * 10) / 10,
    };
  }

  /** What was where when the host paused: from the file's own state, targets from both. */
  pauseRecord(live: Record<string, number>): PauseRecord {
    const t = this.tracker;
    const temperatures = { ...live, ...t.targets };
    return {
      x: t.x,
      y: t.y,
      z: t.z,
      e: t.e,
      relativeE: t.relativeE,
      relative: t.relative,
      feedrate: t.feedrate,
      fan: t.fan,
      tool: t.tool,
      temperatures,
      toolTemperature: temperatures[`tool${t.tool}`] ?? null,
    };
  }

  /** The checkpoint of this job now (`offset`: acknowledged; `state`: null for an SD print). */
  checkpoint(job: { id: string; file: string; sha256: string | null; source: "host" | "sd"; size: number; startedAt: number }, offset: number, temperatures: Record<string, number>, paused: boolean, now: number): Checkpoint {
    const l = this.plan.layers[this.layerIndex];
    const layerState = this.layerStates.get(this.layerIndex);
    const host = job.source === "host";
    return {
      jobId: job.id,
      file: job.file,
      sha256: job.sha256,
      source: job.source,
      size: job.size,
      startedAt: job.startedAt,
      printTime: this.printSeconds(now),
      offset,
      line: this.ackedLine,
      layer: l && layerState && host ? { index: this.layerIndex, count: this.plan.layers.length, offset: l.offset, z: l.z, state: layerState } : null,
      state: host ? this.tracker.snapshot() : null,
      temperatures,
      cancelled: this.filter.cancelled,
      paused,
      at: Date.now(),
    };
  }

  private ringPush(end: number, line: number, move: boolean): void {
    const size = this.ringEnd.length;
    const next = (this.ringTail + 1) % size;
    if (next === this.ringHead) {
      // Full (a plugin holds lines back): twice the room, in order.
      const ends = new Float64Array(size * 2);
      const lines = new Float64Array(size * 2);
      const moves = new Uint8Array(size * 2);
      let n = 0;
      for (let i = this.ringHead; i !== this.ringTail; i = (i + 1) % size, n++) {
        ends[n] = this.ringEnd[i]!;
        lines[n] = this.ringLine[i]!;
        moves[n] = this.ringMove[i]!;
      }
      this.ringEnd = ends;
      this.ringLine = lines;
      this.ringMove = moves;
      this.ringHead = 0;
      this.ringTail = n;
    }
    this.ringEnd[this.ringTail] = end;
    this.ringLine[this.ringTail] = line;
    this.ringMove[this.ringTail] = move ? 1 : 0;
    this.ringTail = (this.ringTail + 1) % this.ringEnd.length;
  }
}
