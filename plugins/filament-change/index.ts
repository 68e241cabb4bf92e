/**
 * Bundled plugin (and example): a serial-path hook (queue), scripts, settings, a file action and
 * a route that starts a print through the host API. Where the head is comes from the host
 * (`ctx.machine`, plugin API 1.1), which follows every line of the print anyway: the plugin reads
 * only the lines it acts on.
 *
 * - `M600` in a file (mode "host"): the line is replaced by the host command `@pause`; the print
 *   pauses after the lines before it, and the pause script parks the head (retract, lift, move
 *   away). Resume puts it back (position, prime, E coordinate) and the print goes on.
 * - Pause heights: the first move to or above each height pauses the print the same way.
 */
import { definePlugin, html, HttpError, v, type LineContext, type MachineState } from "layerline";

const mm = (title: string, description: string, fallback: number, min = 0, max = 1000) =>
  v.optional(v.pipe(v.number(), v.minValue(min), v.maxValue(max), v.title(title), v.description(description)), fallback);

const settings = v.object({
  mode: v.optional(
    v.pipe(
      v.picklist(["host", "firmware"]),
      v.title("M600 handling"),
      v.description("host: Layerline pauses and parks (for firmware without M600); firmware: M600 is sent to the printer unchanged."),
    ),
    "host",
  ),
  pauseHeights: v.optional(
    v.pipe(v.array(v.pipe(v.number(), v.minValue(0.01))), v.title("Pause at heights (mm)"), v.description("Comma-separated, e.g. 2.4, 10. Applies to every print.")),
    [],
  ),
  nextPrintHeights: v.optional(
    v.pipe(v.array(v.pipe(v.number(), v.minValue(0.01))), v.title("Pause heights for the next print only (mm)"), v.description("Cleared when that print starts.")),
    [],
  ),
  parkX: mm("Park X (mm)", "Where the head waits during the change.", 10, -1000),
  parkY: mm("Park Y (mm)", "", 10, -1000),
  lift: mm("Lift (mm)", "Raised this much above the print before moving away.", 10, 0, 200),
  retract: mm("Retract (mm)", "Filament pulled back before parking, pushed out again on resume.", 5, 0, 100),
  travelSpeed: mm("Travel speed (mm/min)", "", 6000, 60, 60000),
  zSpeed: mm("Z speed (mm/min)", "", 600, 6, 6000),
  parkOnEveryPause: v.optional(v.pipe(v.boolean(), v.title("Park on every pause"), v.description("Also park when you press Pause, not only for filament changes.")), false),
});
type Settings = v.InferOutput<typeof settings>;

/** Where the head was parked from, and the modes the file was using then. */
export interface Position {
  x: number;
  y: number;
  z: number;
  e: number;
  absolute: boolean;
  absoluteE: boolean;
}

/** What the plugin keeps per printer while it runs (ctx.state). */
interface State {
  heights: number[];
  /** The current pause is one of ours. */
  changing: boolean;
  /** Where the head was when it was parked. */
  parked: Position | null;
}

function stateOf(ctx: LineContext<Settings>): State {
  const s = ctx.state as Partial<State>;
  s.heights ??= [];
  s.changing ??= false;
  s.parked ??= null;
  return s as State;
}

const f = (n: number) => String(Math.round(n * 1000) / 1000);

/** The lines that park the head from `p`. */
export function parkLines(p: Position, s: Settings): string[] {
  return [
    "M83",
    `G1 E-${f(s.retract)} F2400`,
    "G91",
    `G1 Z${f(s.lift)} F${f(s.zSpeed)}`,
    "G90",
    `G1 X${f(s.parkX)} Y${f(s.parkY)} F${f(s.travelSpeed)}`,
    "M117 Change filament, then resume",
  ];
}

/** The lines that put the head back to `p` and restore the modes the file was using. */
export function unparkLines(p: Position, s: Settings): string[] {
  return [
    "G90",
    `G1 X${f(p.x)} Y${f(p.y)} F${f(s.travelSpeed)}`,
    `G1 Z${f(p.z)} F${f(s.zSpeed)}`,
    "M83",
    `G1 E${f(s.retract)} F2400`,
    ...(p.absoluteE ? ["M82", `G92 E${f(p.e)}`] : []),
    ...(p.absolute ? [] : ["G91"]),
    "M117",
  ];
}

const M600 = /^M600(\s|$)/i;
const MOVE = /^G[0-3](\s|$)/i;
const LOWER_M = 0x6d;
const LOWER_G = 0x67;

/** A copy of where the print stopped (the machine state changes with the next line), or null when not known. */
function parkedFrom(m: MachineState | null): Position | null {
  if (!m || m.x === null || m.y === null || m.z === null) return null;
  return { x: m.x, y: m.y, z: m.z, e: m.e, absolute: m.absolute, absoluteE: m.absoluteE };
}

export default definePlugin({
  settings,
  gcode: {
    // Runs for every line of a print: lines other than M… and G… cost one character test.
    queue(line, ctx) {
      if (ctx.source !== "job") return;
      const first = line.charCodeAt(0) | 0x20; // lower case
      if (first === LOWER_M) {
        if (ctx.settings.mode !== "host" || !M600.test(line)) return;
        stateOf(ctx).changing = true;
        ctx.log("M600: pausing for a filament change");
        return "@pause";
      }
      if (first !== LOWER_G) return;
      const s = stateOf(ctx);
      if (s.heights.length === 0 || !MOVE.test(line)) return;
      // The host's machine state already includes this line: z is where the move goes.
      const z = ctx.machine?.z ?? null;
      if (z === null || z < s.heights[0]! - 1e-6) return;
      while (s.heights.length && z >= s.heights[0]! - 1e-6) s.heights.shift();
      s.changing = true;
      ctx.log(`pausing at Z ${f(z)} mm`);
      return [line, "@pause"];
    },
  },
  scripts: {
    beforePrintStarted(ctx) {
      const s = stateOf(ctx);
      s.heights = [...ctx.settings.pauseHeights, ...ctx.settings.nextPrintHeights].sort((a, b) => a - b);
      s.changing = false;
      s.parked = null;
    },
    afterPrintPaused(ctx) {
      const s = stateOf(ctx);
      if (!s.changing && !ctx.settings.parkOnEveryPause) return;
      const p = parkedFrom(ctx.machine);
      if (!p) {
        ctx.log("the head's position is not known yet, so it was not parked");
        return ["M117 Paused"];
      }
      s.parked = p;
      return parkLines(p, ctx.settings);
    },
    beforePrintResumed(ctx) {
      const s = stateOf(ctx);
      const p = s.parked;
      s.parked = null;
      s.changing = false;
      return p ? unparkLines(p, ctx.settings) : undefined;
    },
  },
  setup(ctx) {
    // One-shot heights are used by the print that starts next (the Worker read them at its start).
    ctx.on("job", (e) => {
      if (e.state === "started" && ctx.settings.get().nextPrintHeights.length > 0) ctx.settings.set({ nextPrintHeights: [] });
    });

    ctx.route("POST", "/print", async ({ body }) => {
      const form = (body ?? {}) as Record<string, unknown>;
      const path = String(form.path ?? "");
      const printer = String(form.printer ?? "") || ctx.printers.list().find((p) => p.isDefault)?.id || "";
      const height = Number(form.height);
      if (!path) throw new HttpError(400, "invalid_request", "Name the file to print.");
      if (!Number.isFinite(height) || height <= 0) throw new HttpError(400, "invalid_request", "Enter the height to pause at, in mm (e.g. 2.4).");
      ctx.settings.set({ nextPrintHeights: [height] });
      await ctx.printers.startJob(printer, path);
      return html`<p class="ok">Printing ${path}; it pauses at ${f(height)} mm for a filament change.</p>`;
    });

    ctx.slot("file.actions", ({ path, printer, viewer }) => {
      if (!printer || !viewer.may("POST")) return null;
      const ready = printer.state === "operational";
      return html`<form class="inline" hx-post="/api/v1/plugins/filament-change/print" hx-target="this" hx-swap="outerHTML">
  <input type="hidden" name="path" value="${path}"><input type="hidden" name="printer" value="${printer.id}">
  <label>Filament change at <input type="number" name="height" min="0.05" step="0.05" placeholder="mm" required> mm</label>
  <button type="submit" ${ready ? "" : "disabled"}>Print with a filament change</button>
</form>`;
    });
  },
});
