/**
 * The plugin stages of one direction of a printer's serial path, kept in order. The controller
 * pushes lines (and script requests) in; each leaves, rewritten, dropped or multiplied by the
 * plugins' hooks, through `deliver`, in the order they came in. While an asynchronous hook is
 * pending, later lines wait behind it (`busy`), so the controller stops reading the job file;
 * `resumed` tells it when to go on. Without hooks for its stages a line is delivered at once.
 * Lines pushed from inside `deliver` (a host command that runs a script) queue behind the rest.
 */
import type { LineStage, ScriptName } from "../api.ts";
import type { LineSource } from "../sdk.ts";
import { chain, type MaybeAsync } from "./chain.ts";

/** What the pipeline needs from the plugins loaded in this Worker. */
export interface LineHooks {
  /** Whether any loaded plugin hooks this stage (read for every line: keep it cheap). */
  hooks(stage: LineStage): boolean;
  hasScripts(): boolean;
  /** Runs every plugin's hook of `stage` over one line, in plugin order. */
  run(stage: LineStage, line: string, source: LineSource): MaybeAsync<string[]>;
  /** The lines the plugins add to a script. */
  script(name: ScriptName): MaybeAsync<string[]>;
  /**
   * The printer refused `command`, a job line a queue or send hook made (`problem`: why): the
   * plugin that made it gets the fault. False when no plugin made it.
   */
  refused?(command: string, problem: string): boolean;
}

type Item = { line: string; tag: number; source: LineSource } | { script: ScriptName | null; own: string[]; ownLast: boolean; tag: number };

export class LinePipeline {
  private readonly items: Item[] = [];
  private waiting = false;
  private draining = false;
  /** Bumped by reset(): answers of hooks that were pending then are ignored. */
  private generation = 0;
  /** The stages some plugin hooks (bit i: `stages[i]`), and those stages, kept until that changes. */
  private hookedMask = 0;
  private hooked: readonly LineStage[] = [];

  constructor(
    private readonly hooks: LineHooks | undefined,
    private readonly stages: readonly LineStage[],
    private readonly deliver: (line: string, tag: number) => void,
    private readonly resumed: () => void,
  ) {}

  /** The tag of the first line waiting (-1: none, or a script). */
  get firstTag(): number {
    return this.items.length > 0 ? this.items[0]!.tag : -1;
  }

  /** True while lines wait behind an asynchronous hook. */
  get busy(): boolean {
    return this.items.length > 0;
  }

  /** Sends one line through the stages; `tag` comes back with each line it becomes. */
  push(line: string, tag: number, source: LineSource): void {
    if (!this.draining && this.items.length === 0 && this.hookedStages().length === 0) {
      this.deliver(line, tag);
      return;
    }
    this.items.push({ line, tag, source });
    this.drain();
  }

  /**
   * Runs a script: the host's own lines (the user's script) and the plugins' part of `plugins`
   * (null: a script plugins do not take part in); all of them then pass the stages like any
   * other line. The host's lines come first, or last with `ownLast` (undoing in reverse order:
   * resuming puts back what plugins changed at the pause before what the host changed).
   * False when there was nothing to run.
   */
  pushScript(plugins: ScriptName | null, own: string[] = [], ownLast = false): boolean {
    const script = plugins !== null && this.hooks?.hasScripts() ? plugins : null;
    if (script === null && own.length === 0) return false;
    this.items.push({ script, own, ownLast, tag: -1 });
    this.drain();
    return true;
  }

  /** Forgets waiting lines that carry a tag (a job's lines when the job ends). */
  dropTagged(): void {
    const keep = this.items.filter((item) => item.tag < 0);
    this.items.splice(0, this.items.length, ...keep);
  }

  /** Forgets everything, including a pending hook's answer (the link closed). */
  reset(): void {
    this.items.length = 0;
    this.waiting = false;
    this.generation++;
  }

  /**
   * The stages with hooks now, in order: a stage no plugin hooks costs a line nothing. Asked for
   * every line, so the list is made again only when plugins come, go or change their hooks.
   */
  private hookedStages(): readonly LineStage[] {
    const hooks = this.hooks;
    if (!hooks) return this.hooked;
    let mask = 0;
    for (let i = 0; i < this.stages.length; i++) if (hooks.hooks(this.stages[i]!)) mask |= 1 << i;
    if (mask !== this.hookedMask) {
      this.hookedMask = mask;
      this.hooked = this.stages.filter((_, i) => mask & (1 << i));
    }
    return this.hooked;
  }

  private drain(): void {
    if (this.draining || this.waiting) return;
    this.draining = true;
    try {
      while (this.items.length > 0 && !this.waiting) {
        const item = this.items[0]!;
        const result = this.expand(item);
        if (result instanceof Promise) {
          this.waiting = true;
          const generation = this.generation;
          void result.then((lines) => {
            if (generation !== this.generation) return;
            this.waiting = false;
            // A job line dropped while its hook ran (the job ended) is not sent after all.
            if (this.items[0] === item) {
              this.items.shift();
              this.draining = true;
              try {
                this.emit(lines, item.tag);
              } finally {
                this.draining = false;
              }
            }
            this.drain();
            this.resumed();
          });
          return;
        }
        this.items.shift();
        this.emit(result, item.tag);
      }
    } finally {
      this.draining = false;
    }
  }

  private expand(item: Item): MaybeAsync<string[]> {
    const hooks = this.hooks;
    const stages = this.hookedStages();
    if ("own" in item) {
      const through = (ls: string[]) => (hooks ? chain(item.ownLast ? [...ls, ...item.own] : [...item.own, ...ls], stages, (stage, line) => hooks.run(stage, line, "script")) : item.own);
      if (item.script === null || !hooks) return through([]);
      const lines = hooks.script(item.script);
      return lines instanceof Promise ? lines.then(through) : through(lines);
    }
    return chain([item.line], stages, (stage, line) => hooks!.run(stage, line, item.source));
  }

  private emit(lines: string[], tag: number): void {
    for (const line of lines) this.deliver(line, tag);
  }
}
