/**
 * What plugin hooks cost on the serial path: a real slicer file streamed to the in-process
 * virtual printer (instant mode, so the link is the only limit) by the printer controller, once
 * without plugins and then with plugins loaded by the same host the printer Worker uses — side
 * by side in one run. Every run checks that each line of the file was executed once, in order.
 *
 *   bun bench/plugin-hooks.ts [file.gcode]   (default: ../shared/data/gcode/ps25_mk3s_bunny60_0.20quality_pla_thumb.gcode)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { LineHooks } from "../src/plugins/serial/pipeline.ts";
import { WorkerPluginHost } from "../src/plugins/serial/worker-host.ts";
import { PrinterController } from "../src/printers/controller.ts";
import { loadQuirkSources } from "../src/printers/quirks-sources.ts";
import { clean } from "../src/protocol/framing.ts";
import { QuirksLibrary } from "../src/protocol/quirks-library.ts";
import { writePlugin } from "../tests/plugins/helpers.ts";
import { sharedGcode } from "./shared-data.ts";

const FILE = process.argv[2] ?? join(sharedGcode(), "ps25_mk3s_bunny60_0.20quality_pla_thumb.gcode");
const ROUNDS = 3;
const plugins = mkdtempSync(join(tmpdir(), "layerline-bench-plugins-"));
const { sources } = await loadQuirkSources(undefined);
const library = new QuirksLibrary(sources);
const expected = (await Bun.file(FILE).text()).split("\n").map(clean).filter(Boolean);

/** A WorkerPluginHost with these plugins loaded (as a printer Worker has them). */
async function host(entries: Record<string, string>): Promise<LineHooks> {
  const h = new WorkerPluginHost(() => {});
  h.attach({ id: "bench", name: "bench", job: () => null });
  await h.update(Object.entries(entries).map(([id, entry]) => ({ id, dir: writePlugin(plugins, { id, entry }), entry: join(plugins, id, "index.ts"), generation: 1, settings: {} })));
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
  await c.connect();
  // Connected once the connect sequence (auto-reports, SD listing) is through: nothing else is sent then.
  while (!(c.status.state === "operational" && c.status.sd.files.length > 0)) await Bun.sleep(5);
  const before = executed.length;
  const started = performance.now();
  await c.startJob(basename(FILE));
  while (c.status.job?.state === "printing") await Bun.sleep(2);
  const seconds = (performance.now() - started) / 1000;
  await c.dispose();
  const lines = executed.slice(before);
  if (c.status.job?.state !== "done" || lines.length !== expected.length || lines.some((l, i) => l !== expected[i] && !(expected[i] === "M600"))) {
    throw new Error(`the print did not deliver the file unchanged (${c.status.job?.state}, ${lines.length} of ${expected.length} lines)`);
  }
  return expected.length / seconds;
}

const passThrough = `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { queue: () => undefined, send: () => undefined, receive: () => undefined } });`;
const asyncSend = `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send: async () => undefined } });`;
const filamentChange = await Bun.file(join(import.meta.dir, "../plugins/filament-change/index.ts")).text();
const position = await Bun.file(join(import.meta.dir, "../plugins/filament-change/position.ts")).text();

const cases: [string, () => Promise<LineHooks | undefined>][] = [
  ["no plugins", async () => undefined],
  ["1 plugin, pass-through queue+send+receive hooks", () => host({ pass: passThrough })],
  ["5 such plugins", () => host(Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`pass${i}`, passThrough])))],
  ["bundled filament-change (position tracking)", async () => {
    const h = new WorkerPluginHost(() => {});
    h.attach({ id: "bench", name: "bench", job: () => null });
    const dir = writePlugin(plugins, { id: "filament-change", entry: filamentChange, files: { "position.ts": position } });
    await h.update([{ id: "filament-change", dir, entry: join(dir, "index.ts"), generation: 1, settings: { mode: "firmware", pauseHeights: [], nextPrintHeights: [], parkX: 0, parkY: 0, lift: 10, retract: 5, travelSpeed: 6000, zSpeed: 600, parkOnEveryPause: false } }]);
    return h;
  }],
  ["1 plugin, async send hook (every line a promise)", () => host({ slow: asyncSend })],
];

console.log(`${basename(FILE)}: ${expected.length} lines, window 4, in-process virtual printer (instant), best of ${ROUNDS}`);
const baseline: number[] = [];
for (const [name, make] of cases) {
  const hooks = await make();
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(await print(hooks));
  const best = Math.max(...rates);
  if (!baseline.length) baseline.push(best);
  console.log(`${name.padEnd(52)} ${Math.round(best).toString().padStart(7)} lines/s  (${((best / baseline[0]!) * 100).toFixed(0)} % of no plugins)`);
}
rmSync(plugins, { recursive: true, force: true });
