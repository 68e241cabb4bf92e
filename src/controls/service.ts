/**
 * The host's custom controls: the definition in the database (one row, checked by the model on
 * the way in and again on the way out, so a hand-edited row can never break a page), what pressing
 * one sends, and the read-outs of each printer, matched on the main thread from the lines the bus
 * already carries and announced as `controls.output` when they change.
 */
import type { Database } from "bun:sqlite";
import { subscribe, type Bus } from "../events.ts";
import { ReadoutMatcher } from "./matcher.ts";
import { checkControls, commandLines, controlAt, parameterValues, readouts, substitute, type Control, type Readout } from "./model.ts";

export interface ControlsServiceOptions {
  db: Database;
  bus: Bus;
  log?: (line: string) => void;
  now?: () => number;
}

/** What pressing a control sends, or why it cannot be pressed (404: no such control; 400: a parameter). */
export type PressResult = { ok: true; lines: string[] } | { ok: false; status: 400 | 404 | 409; error: string };

export class ControlsService {
  private controls: Control[] = [];
  private updated: number | null = null;
  private compiled: Readout[] = [];
  private readonly matchers = new Map<string, ReadoutMatcher>();
  private readonly values = new Map<string, Map<string, string>>();
  private unsubscribe: (() => void) | null = null;
  private readonly now: () => number;

  constructor(private readonly options: ControlsServiceOptions) {
    this.now = options.now ?? Date.now;
    this.load();
  }

  start(): void {
    this.unsubscribe ??= subscribe(this.options.bus, {
      "printer.log": ({ id, lines }) => {
        if (this.compiled.length === 0) return;
        const received = lines.filter((l) => l.dir === "recv").map((l) => l.text);
        if (received.length === 0) return;
        let matcher = this.matchers.get(id);
        if (!matcher) this.matchers.set(id, (matcher = new ReadoutMatcher(this.compiled)));
        const changed = matcher.match(received, this.now());
        if (changed.size === 0) return;
        let mine = this.values.get(id);
        if (!mine) this.values.set(id, (mine = new Map()));
        for (const [key, text] of changed) {
          if (mine.get(key) === text) continue;
          mine.set(key, text);
          this.options.bus.emit("controls.output", { printer: id, key, text });
        }
      },
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** The definition, as saved. */
  list(): Control[] {
    return this.controls;
  }

  /** When it was last saved (ms), null if never. */
  updatedAt(): number | null {
    return this.updated;
  }

  /** Stores a checked definition and starts matching its read-outs. */
  save(controls: Control[]): void {
    // Strictly later than the last save: the time is also the version a press is checked against.
    const at = Math.max(this.now(), (this.updated ?? 0) + 1);
    this.options.db.query("INSERT INTO custom_controls (id, definition, updated_at) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at").run(JSON.stringify(controls), at);
    this.use(controls, at);
    this.options.bus.emit("controls.changed", undefined);
  }

  /** Each read-out's current text on `printer` (its default until a line matched). */
  outputs(printer: string): Record<string, string> {
    const mine = this.values.get(printer);
    return Object.fromEntries(this.compiled.map((r) => [r.key, mine?.get(r.key) ?? r.default]));
  }

  /** A read-out's new text as OctoPrint's push channel says it (`feedbackCommandOutput`), or null for a read-out gone. */
  octoprintFeedback(key: string, text: string): { name: string; output: Record<string, string> } | null {
    const r = this.compiled.find((c) => c.key === key);
    return r ? { name: r.octoprint.key, output: { [r.octoprint.templateKey]: text } } : null;
  }

  /**
   * The lines pressing the control at `path` sends with `given` parameters (missing ones take their
   * defaults). With `version` (the `updatedAt` the caller's list came from), a definition saved
   * since then refuses the press: positions may now name other controls.
   */
  press(path: string, given: Record<string, unknown>, version?: number): PressResult {
    if (version !== undefined && version !== this.updated)
      return { ok: false, status: 409, error: "The custom controls were changed since this list was shown, so that button may now be another control. Nothing was sent; press it again in the list as it is now." };
    const control = controlAt(this.controls, path);
    if (!control) return { ok: false, status: 404, error: `There is no command control at "${path}". Controls are addressed by position: "0" is the first, "1.2" the third child of the second.` };
    const values = parameterValues(control.input ?? [], given);
    if (!values.ok) return { ok: false, status: 400, error: values.error };
    const lines = substitute(commandLines(control), values.values, (control.input ?? []).length > 0);
    if (!lines.ok) return { ok: false, status: 400, error: `${control.name ?? "The control"}: ${lines.error}` };
    return { ok: true, lines: lines.lines.map((l) => l.trim()).filter(Boolean) };
  }

  private load(): void {
    const row = this.options.db.query("SELECT definition, updated_at FROM custom_controls WHERE id = 1").get() as { definition: string; updated_at: number } | null;
    if (!row) return;
    let json: unknown;
    try {
      json = JSON.parse(row.definition);
    } catch {
      json = null;
    }
    const checked = checkControls(json);
    if (checked.ok) this.use(checked.controls, row.updated_at);
    else this.options.log?.(`warning: the stored custom controls are not valid and are ignored (${checked.errors[0]}); save them again in Settings → Custom controls.`);
  }

  private use(controls: Control[], at: number): void {
    this.controls = controls;
    this.updated = at;
    this.compiled = readouts(controls);
    this.matchers.clear();
    // Values of read-outs that are gone go with them; those kept keep their text.
    const keys = new Set(this.compiled.map((r) => r.key));
    for (const mine of this.values.values()) for (const key of [...mine.keys()]) if (!keys.has(key)) mine.delete(key);
  }
}
