/**
 * What plugin hooks cost on the serial path: a real slicer file streamed to the in-process
 * virtual printer (instant mode, so the link is the only limit) by the printer controller, once
 * without plugins and then with plugins loaded by the same host the printer Worker uses — side
 * by side in one run. Every run checks that each line of the file was executed once, in order.
 * The second figure is the serial path's own part without the printer (whose simulation shares
 * the thread and makes lines/s vary a lot): every line of the file through the job's
 * bookkeeping and the plugin stages, as the controller feeds them — ns per line.
 *
 *   ROUNDS=3 bun bench/plugin-hooks.ts [file.gcode]   (default: ../shared/data/gcode/ps25_mk3s_bunny60_0.20quality_pla_thumb.gcode)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { EMPTY_PLAN } from "../src/jobs/plan.ts";
import type { MachineState } from "../src/plugins/sdk.ts";
import { machineView } from "../src/plugins/serial/machine-view.ts";
import { LinePipeline, type LineHooks } from "../src/plugins/serial/pipeline.ts";
import type { SourceLine } from "../src/printers/gcode-source.ts";
import { JobRun } from "../src/printers/job-run.ts";
import { WorkerPluginHost } from "../src/plugins/serial/worker-host.ts";
import { PrinterController } from "../src/printers/controller.ts";
import { loadQuirkSources } from "../src/printers/quirks-sources.ts";
import { coarseJobState, isJobRunning } from "../src/printers/status.ts";
import { clean } from "../src/protocol/framing.ts";
import { QuirksLibrary } from "../src/protocol/quirks-library.ts";
import { writePlugin } from "../tests/plugins/helpers.ts";
import { sharedGcode } from "./shared-data.ts";

const FILE = process.argv[2] ?? join(sharedGcode(), "ps25_mk3s_bunny60_0.20quality_pla_thumb.gcode");
const ROUNDS = Number(process.env.ROUNDS) || 3;
const plugins = mkdtempSync(join(tmpdir(), "layerline-bench-plugins-"));
const { sources } = await loadQuirkSources(undefined);
const library = new QuirksLibrary(sources);
const text = await Bun.file(FILE).text();
const expected = text.split("\n").map(clean).filter(Boolean);

/** The printer printing now: plugins see its job and machine state, as in a printer Worker. */
let printing: PrinterController | undefined;
/** The machine state plugins read while the stages run without a printer. */
let alone: MachineState | null = null;

/** A WorkerPluginHost with these plugins loaded (as a printer Worker has them). */
async function host(entries: Record<string, string>, settings: Record<string, unknown> = {}, files: Record<string, string> = {}): Promise<LineHooks> {
  const h = new WorkerPluginHost(() => {});
  h.attach({
    id: "bench",
    name: "bench",
    job: () => (printing?.status.job ? { file: printing.status.job.file, state: coarseJobState(printing.status.job.state) } : null),
    machine: () => alone ?? printing?.machine ?? null,
  });
  await h.update(Object.entries(entries).map(([id, entry]) => ({ id, dir: writePlugin(plugins, { id, entry, files }), entry: join(plugins, id, "index.ts"), generation: 1, settings })));
  return h;
}

async function print(hooks: LineHooks | undefined): Promise<number> {
  const executed: string[] = [];
  const c = new PrinterController({
    record: { id: "bench", name: "bench", transport: "virtual", port: null, baud: 115200, window: 4, autoconnect: true, isDefault: true, createdAt: 0 },
    library,
    filesDir: dirname(FILE),
    virtual: { timeScale: 0, onExecute: (l) => executed.push(l.command) },
    hooks,
    publish: () => {},
  });
  printing = c;
  await c.connect();
  // Connected once the connect sequence (auto-reports, SD listing) is through: nothing else is sent then.
  while (!(c.status.state === "operational" && c.status.sd.files.length > 0)) await Bun.sleep(5);
  const before = executed.length;
  const started = performance.now();
  await c.startJob(basename(FILE));
  // Starting and finishing (the job's scripts) count as printing too.
  while (isJobRunning(c.status.job?.state)) await Bun.sleep(2);
  const seconds = (performance.now() - started) / 1000;
  await c.dispose();
  const lines = executed.slice(before);
  if (c.status.job?.state !== "done" || lines.length !== expected.length || lines.some((l, i) => l !== expected[i] && !(expected[i] === "M600"))) {
    throw new Error(`the print did not deliver the file unchanged (${c.status.job?.state}, ${lines.length} of ${expected.length} lines)`);
  }
  return expected.length / seconds;
}

/** The file's lines as the controller reads them (command, end offset, line number). */
const sourceLines: SourceLine[] = [];
{
  let end = 0;
  text.split("\n").forEach((raw, i) => {
    end += Buffer.byteLength(raw) + 1;
    const command = clean(raw);
    if (command) sourceLines.push({ command, end, line: i + 1 });
  });
}

/** Every line through the job's bookkeeping and the plugin stages (as `feed` does), no printer: ns per line. */
function stagesAlone(hooks: LineHooks | undefined): number {
  const run = new JobRun(EMPTY_PLAN, { size: Buffer.byteLength(text), scale: 1, now: 0 });
  alone = machineView(run.tracker);
  let delivered = 0;
  const pipeline = new LinePipeline(hooks, ["queue", "send"], () => delivered++, () => {});
  const started = performance.now();
  for (const line of sourceLines) {
    const instead = run.fed(line);
    if (instead === null) pipeline.push(line.command, line.end, "job");
    else for (const l of instead) pipeline.push(l, line.end, "job");
  }
  const ns = ((performance.now() - started) * 1e6) / sourceLines.length;
  alone = null;
  if (delivered !== sourceLines.length) throw new Error(`the stages delivered ${delivered} of ${sourceLines.length} lines`);
  return ns;
}

const passThrough = `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { queue: () => undefined, send: () => undefined, receive: () => undefined } });`;
const asyncSend = `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send: async () => undefined } });`;
/** The bundled filament-change plugin's files (whatever modules it has), with its default settings. */
const FILAMENT_CHANGE = join(import.meta.dir, "../plugins/filament-change");
const filamentChangeFiles = Object.fromEntries(readdirSync(FILAMENT_CHANGE).filter((f) => f.endsWith(".ts")).map((f) => [f, readFileSync(join(FILAMENT_CHANGE, f), "utf8")]));
const filamentChangeDefaults = { mode: "host", pauseHeights: [], nextPrintHeights: [], parkX: 10, parkY: 10, lift: 10, retract: 5, travelSpeed: 6000, zSpeed: 600, parkOnEveryPause: false };
const filamentChange = (settings: Record<string, unknown>) => host({ "filament-change": filamentChangeFiles["index.ts"]! }, { ...filamentChangeDefaults, ...settings }, filamentChangeFiles);

const cases: [string, () => Promise<LineHooks | undefined>, sync?: boolean][] = [
  ["no plugins", async () => undefined],
  ["1 plugin, pass-through queue+send+receive hooks", () => host({ pass: passThrough })],
  ["5 such plugins", () => host(Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`pass${i}`, passThrough])))],
  ["bundled filament-change, default settings", () => filamentChange({})],
  ["bundled filament-change, pause height (unreached)", () => filamentChange({ pauseHeights: [1000] })],
  ["1 plugin, async send hook (every line a promise)", () => host({ slow: asyncSend }), false],
];

console.log(`${basename(FILE)}: ${expected.length} lines, window 4, in-process virtual printer (instant), best of ${ROUNDS}`);
console.log(`${"".padEnd(52)} printed (% of no plugins)   stages alone`);
const baseline: number[] = [];
for (const [name, make, sync] of cases) {
  const hooks = await make();
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(await print(hooks));
  const best = Math.max(...rates);
  if (!baseline.length) baseline.push(best);
  // An asynchronous hook holds lines back for a turn of the event loop: not measurable in one loop.
  const alone = sync === false ? null : Math.min(...Array.from({ length: ROUNDS }, () => stagesAlone(hooks)));
  const aloneText = alone === null ? "—" : `${Math.round(alone)} ns/line`;
  console.log(`${name.padEnd(52)} ${Math.round(best).toString().padStart(7)} lines/s (${((best / baseline[0]!) * 100).toFixed(0).padStart(3)} %)   ${aloneText.padStart(12)}`);
}
rmSync(plugins, { recursive: true, force: true });
