/**
 * The plugins of one printer Worker: it loads the plugins with serial hooks that the main thread
 * names, runs their hooks for the controller's line pipelines under the line budget, and reports
 * back. A hook that throws, rejects or overruns is skipped for that line (the line goes on as it
 * was); after {@link FAULT_LIMIT} faults the Worker stops running the plugin at once and the main
 * thread disables it across the host. A reload swaps the new code in between two lines.
 */
import { BUDGET_MS, FAULT_LIMIT, type LineStage, type ScriptName } from "../api.ts";
import { guarded, describe, type Outcome } from "../guard.ts";
import { unattributedMessage, type Uncaught } from "../exit-guard.ts";
import { importFresh, type LoadedDefinition } from "../loader.ts";
import { inPlugin } from "../scope.ts";
import { perSecondBudget } from "../../rate-limit.ts";
import type { JobState, LineContext, LineResult, LineSource, MachineState } from "../sdk.ts";
import { chain, collect, type MaybeAsync } from "./chain.ts";
import type { LineHooks } from "./pipeline.ts";
import { faultPlace, IN_PLUGIN_WHAT, type FaultWhere, type SerialPluginReport, type SerialPluginSpec } from "./protocol.ts";

/** What the host knows about the printer this Worker drives. */
export interface PrinterView {
  id: string;
  name: string;
  job(): { file: string; state: JobState } | null;
  /** The running job's machine state: one view per job (read for every hook call: no copy). */
  machine(): MachineState | null;
}

interface Running {
  spec: SerialPluginSpec;
  definition: LoadedDefinition;
  ctx: MutableContext;
  faults: number;
}

type MutableContext = { -readonly [K in keyof LineContext]: LineContext[K] };

/** What {@link IN_PLUGIN_WHAT} calls each stage's hook, as its index (set for every line). */
const STAGE_HOOK: Record<LineStage, number> = {
  queue: IN_PLUGIN_WHAT.indexOf("queue hook"),
  send: IN_PLUGIN_WHAT.indexOf("send hook"),
  receive: IN_PLUGIN_WHAT.indexOf("receive hook"),
};
const IN_PLUGIN_SCRIPT = IN_PLUGIN_WHAT.indexOf("script");

/** Lines made by outgoing hooks remembered, to name the plugin when the printer refuses one. */
const MADE_KEEP = 64;

/** Log lines a plugin may send per second from one Worker (a per-line log would flood the host). */

export class WorkerPluginHost implements LineHooks {
  private running: Running[] = [];
  private stageHooks: Record<LineStage, Running[]> = { queue: [], send: [], receive: [] };
  private scriptHooks = false;
  private printer: PrinterView = { id: "", name: "", job: () => null, machine: () => null };
  private updating: Promise<void> = Promise.resolve();
  private readonly mayLog = perSecondBudget();
  /** Every plugin whose code was loaded in this thread (its timers may outlive it). */
  private readonly loaded = new Set<string>();
  // Which plugin's code runs now, for the main thread's watchdog (a plugin stuck in a loop blocks
  // this thread: only the main thread can see it, stop the Worker and start it again without it).
  private inPlugin: Int32Array<ArrayBufferLike> = new Int32Array(3);
  // A ring of the last lines queue and send hooks made (parallel arrays: nothing allocated per line).
  private madeBy: (Running | undefined)[] = new Array(MADE_KEEP);
  private madeStage: LineStage[] = new Array(MADE_KEEP);
  private madeLines: string[][] = new Array(MADE_KEEP);
  private madeCount = 0;

  constructor(private readonly report: (r: SerialPluginReport) => void) {}

  /** The plugin whose hook or script runs now (see src/plugins/exit-guard.ts). */
  runningNow(): string | undefined {
    const tag = this.inPlugin[0];
    return tag ? this.running.find((r) => r.spec.tag === tag)?.spec.id : undefined;
  }

  /** A refused exit or anything no hook call caught (a plugin's own timer or promise): that plugin's fault (false: not one run here). */
  uncaughtFrom(plugin: string, e: unknown): boolean {
    const r = this.running.find((x) => x.spec.id === plugin);
    if (r) this.fault(r, "callback", `threw: ${describe(e)}`);
    // A version no longer run here (or one stopped after its faults) left it behind: it is said, nothing more.
    else if (this.loaded.has(plugin)) console.error(`printer ${this.printer.id}: the plugin ${plugin}, no longer run here, ${faultPlace("callback")} threw: ${describe(e)}`);
    else return false;
    return true;
  }

  /** The same when no plugin could be named: said to the main thread, which shows it as a notice. */
  unattributed(how: Uncaught, e: unknown): void {
    this.report({ kind: "unattributed", message: unattributedMessage(`printer ${this.printer.id}'s thread`, how, e, [...this.loaded]) });
  }

  /** Shares with the main thread which plugin's code runs (see IN_PLUGIN_WHAT). */
  watchedThrough(inPlugin: Int32Array): void {
    this.inPlugin = inPlugin;
  }

  /**
   * Marks `r`'s code as running (`what`), for the watchdog, until {@link left}. Plain stores, not
   * Atomics (a fence on every hook call): the watchdog reads them seconds later.
   */
  private entered(r: Running, what: number): void {
    this.inPlugin[1] = what;
    this.inPlugin[0] = r.spec.tag ?? 0;
  }

  private left<T>(value: T): T {
    this.inPlugin[0] = 0;
    return value;
  }

  /** Tells the host which printer it serves. */
  attach(printer: PrinterView): void {
    this.printer = printer;
    for (const r of this.running) r.ctx.printer = { id: printer.id, name: printer.name };
  }

  /** Resolves once the latest plugin set is loaded. */
  get ready(): Promise<void> {
    return this.updating;
  }

  /** Loads, reloads, reconfigures or drops plugins to match `specs` (in this order of plugins). */
  update(specs: SerialPluginSpec[]): Promise<void> {
    this.updating = this.updating.then(() => this.apply(specs));
    return this.updating;
  }

  hooks(stage: LineStage): boolean {
    return this.stageHooks[stage].length > 0;
  }

  hasScripts(): boolean {
    return this.scriptHooks;
  }

  run(stage: LineStage, line: string, source: LineSource): MaybeAsync<string[]> {
    const hooked = this.stageHooks[stage];
    // Called for every line: with one plugin on the stage (the usual case) no chain in between.
    if (hooked.length === 1) return this.runHook(hooked[0]!, stage, line, source);
    return chain([line], hooked, (r, l) => this.runHook(r, stage, l, source));
  }

  private runHook(r: Running, stage: LineStage, line: string, source: LineSource): MaybeAsync<string[]> {
    if (r.faults >= FAULT_LIMIT) return [line];
    const ctx = r.ctx;
    ctx.source = source;
    ctx.script = null;
    const hook = r.definition.gcode![stage]!;
    this.entered(r, STAGE_HOOK[stage]);
    return this.settle(r, stage, line, this.left(guarded(() => inPlugin(r.spec.id, () => hook(line, ctx)), BUDGET_MS.line)));
  }

  script(name: ScriptName): MaybeAsync<string[]> {
    return collect(
      this.running.filter((r) => r.definition.scripts?.[name]),
      (r) => {
        if (r.faults >= FAULT_LIMIT) return [];
        r.ctx.source = "script";
        r.ctx.script = name;
        this.entered(r, IN_PLUGIN_SCRIPT);
        return this.settle(r, name, null, this.left(guarded(() => inPlugin(r.spec.id, () => r.definition.scripts![name]!(r.ctx)), BUDGET_MS.line)));
      },
    );
  }

  /** A hook's outcome as lines: its result, or (after a fault) the line unchanged. */
  private settle(r: Running, where: LineStage | ScriptName, line: string | null, outcome: MaybeAsync<Outcome<LineResult>>): MaybeAsync<string[]> {
    return outcome instanceof Promise ? outcome.then((o) => this.linesOf(r, where, line, o)) : this.linesOf(r, where, line, outcome);
  }

  private linesOf(r: Running, where: LineStage | ScriptName, line: string | null, o: Outcome<LineResult>): string[] {
    const lines = o.ok ? normalise(o.value, line) : null;
    if (lines) {
      if (o.ok && o.value !== undefined && (where === "queue" || where === "send")) this.remember(r, where, lines);
      return lines;
    }
    // Something that is no LineResult is a fault too: guessing could drop a line of the print.
    this.fault(r, where, o.ok ? `returned ${shown(o.value)}, which is not a line, an array of lines, null or undefined` : o.message);
    return line === null ? [] : [line];
  }

  private remember(r: Running, stage: LineStage, lines: string[]): void {
    const i = this.madeCount++ % MADE_KEEP;
    this.madeBy[i] = r;
    this.madeStage[i] = stage;
    this.madeLines[i] = lines;
  }

  refused(command: string, problem: string): boolean {
    // Newest first: the line was made moments ago (the printer's link checks it as it is queued).
    for (let k = 1; k <= Math.min(this.madeCount, MADE_KEEP); k++) {
      const i = (this.madeCount - k) % MADE_KEEP;
      const r = this.madeBy[i];
      if (!r || !this.madeLines[i]!.some((l) => l.includes(command))) continue;
      this.fault(r, this.madeStage[i]!, `made ${problem}; that line was not sent and the print went on`);
      return true;
    }
    return false;
  }

  private fault(r: Running, where: FaultWhere, message: string): void {
    if (r.faults >= FAULT_LIMIT) return;
    r.faults++;
    this.report({ kind: "fault", plugin: r.spec.id, where, message });
    if (r.faults >= FAULT_LIMIT) {
      this.report({ kind: "disabled", plugin: r.spec.id, message: `stopped after ${FAULT_LIMIT} faults; the last: ${faultPlace(where)} ${message}` });
      this.remove(r.spec.id);
    }
  }

  private async apply(specs: SerialPluginSpec[]): Promise<void> {
    const current = new Map(this.running.map((r) => [r.spec.id, r]));
    const next: Running[] = [];
    for (const spec of specs) {
      const existing = current.get(spec.id);
      if (existing && existing.spec.generation === spec.generation) {
        existing.spec = spec;
        existing.ctx.settings = spec.settings;
        next.push(existing);
        continue;
      }
      // Its own slot: lines (and their hooks) go on while a module loads.
      this.inPlugin[2] = spec.tag ?? 0;
      try {
        this.loaded.add(spec.id);
        const definition = await importFresh(spec.id, spec.dir, spec.entry);
        next.push({ spec, definition, ctx: this.context(spec), faults: 0 });
        this.report({ kind: "loaded", plugin: spec.id, generation: spec.generation });
      } catch (e) {
        this.report({ kind: "loadFailed", plugin: spec.id, message: describe(e) });
        // The previous version (if any) goes on until the main thread decides.
        if (existing) next.push(existing);
      } finally {
        this.inPlugin[2] = 0;
      }
    }
    this.install(next);
  }

  private remove(id: string): void {
    this.install(this.running.filter((r) => r.spec.id !== id));
  }

  /** Swaps the running set in one step, between two lines. */
  private install(running: Running[]): void {
    this.running = running;
    const withStage = (stage: LineStage) => running.filter((r) => r.definition.gcode?.[stage]);
    this.stageHooks = { queue: withStage("queue"), send: withStage("send"), receive: withStage("receive") };
    this.scriptHooks = running.some((r) => Object.keys(r.definition.scripts ?? {}).length > 0);
  }

  private context(spec: SerialPluginSpec): MutableContext {
    const host = this;
    return {
      plugin: spec.id,
      printer: { id: this.printer.id, name: this.printer.name },
      settings: spec.settings,
      source: "job",
      script: null,
      // Read when the plugin reads them, not made for every line whether it does or not.
      get job() {
        return host.printer.job();
      },
      get machine() {
        return host.printer.machine();
      },
      state: {},
      log: (message: string) => this.log(spec.id, String(message)),
    };
  }

  private log(plugin: string, message: string): void {
    if (!this.mayLog(plugin, performance.now())) return;
    this.report({ kind: "log", plugin, level: "info", message: message.slice(0, 500) });
  }
}

/** A hook's answer as lines (see {@link LineResult}); `undefined` keeps `line`; null when it is no LineResult. */
export function normalise(result: LineResult, line: string | null): string[] | null {
  if (result === undefined) return line === null ? [] : [line];
  if (result === null) return [];
  if (typeof result === "string") return [result];
  if (Array.isArray(result) && result.every((l) => typeof l === "string")) return result;
  return null;
}

/** A wrong result, briefly, for the fault's message. */
function shown(value: unknown): string {
  if (Array.isArray(value)) return `an array holding ${value.filter((l) => typeof l !== "string").map((l) => (l === null ? "null" : typeof l)).join(", ")}`;
  return value === null ? "null" : `a${/^[aeiou]/.test(typeof value) ? "n" : ""} ${typeof value}`;
}
