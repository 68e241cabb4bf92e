/**
 * The printer controller with plugin hooks (as its Worker runs them), against the in-process
 * virtual printer: lines rewritten on the way out and in, scripts at the right moments, `@pause`
 * from a hook, an asynchronous hook that holds lines back without losing or reordering any.
 */
import { expect, test } from "bun:test";
import { dirname } from "node:path";
import type { LineStage, ScriptName } from "../../src/plugins/api.ts";
import type { LineHooks } from "../../src/plugins/serial/pipeline.ts";
import { DEFAULT_PROFILE } from "../../src/printers/profile.ts";
import { PrinterController } from "../../src/printers/controller.ts";
import { loadQuirkSources } from "../../src/printers/quirks-sources.ts";
import { clean } from "../../src/protocol/framing.ts";
import { QuirksLibrary } from "../../src/protocol/quirks-library.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

async function controller(hooks: LineHooks, executed: string[]) {
  const { sources } = await loadQuirkSources(undefined);
  const c = new PrinterController({
    record: { id: "t", name: "t", transport: "virtual", port: null, baud: 115200, window: 4, autoconnect: true, isDefault: true, createdAt: 0 },
    library: new QuirksLibrary(sources),
    filesDir: dirname(TORUS),
    virtual: { timeScale: 0, onExecute: (l) => executed.push(l.command) },
    hooks,
    publish: () => {},
  });
  expect((await c.connect()).ok).toBe(true);
  // Connected once the connect sequence (auto-reports, SD listing) is through: nothing else is sent then.
  for (let i = 0; i < 300 && !(c.status.state === "operational" && c.status.sd.files.length > 0); i++) await Bun.sleep(10);
  expect(c.status.state).toBe("operational");
  return c;
}

const waitWhile = async (c: PrinterController, states: string[]) => {
  for (let i = 0; i < 3000 && states.includes(c.status.job?.state ?? ""); i++) await Bun.sleep(10);
};

function hooks(stages: Partial<Record<LineStage, (line: string) => string[] | Promise<string[]>>>, scripts: Partial<Record<ScriptName, string[]>> = {}): LineHooks {
  return {
    hooks: (s) => !!stages[s],
    hasScripts: () => Object.keys(scripts).length > 0,
    run: (s, line) => stages[s]!(line),
    script: (name) => scripts[name] ?? [],
  };
}

test("rewrites out and in, and scripts around a print", async () => {
  const executed: string[] = [];
  const c = await controller(
    hooks(
      {
        queue: (l) => (l === "M107" ? ["M106 S0"] : [l]),
        // What the printer says passes the plugins before the host reads it.
        receive: (l) => [l.replace(/\bT:[\d.]+/, "T:99.0")],
      },
      { afterConnected: ["M117 hello"], beforePrintStarted: ["M117 start", "G28"], afterPrintDone: ["M117 done"] },
    ),
    executed,
  );
  await Bun.sleep(100);
  expect(executed).toContain("M117 hello");
  const before = executed.length;
  expect((await c.startJob("ps25_ender3_torus_0.20normal_pla.gcode")).ok).toBe(true);
  await waitWhile(c, ["starting", "printing", "pausing", "resuming", "finishing"]);
  expect(c.status.job?.state).toBe("done");
  await Bun.sleep(100);
  const file = (await Bun.file(TORUS).text()).split("\n").map(clean).filter(Boolean).map((l) => (l === "M107" ? "M106 S0" : l));
  expect(executed.slice(before)).toEqual(["M117 start", "G28", ...file, "M117 done"]);
  expect(c.status.temperatures.tool0?.actual).toBe(99);
  await c.dispose();
}, 60_000);

test("an asynchronous hook holds lines back in order; @pause pauses, the pause script runs, resume goes on", async () => {
  const executed: string[] = [];
  let n = 0;
  const c = await controller(
    hooks(
      {
        send: (l) => (++n % 200 === 0 ? Bun.sleep(2).then(() => [l]) : [l]),
        queue: (l) => (l === "G1 Z.4 F9000" ? [l, "@pause"] : [l]),
      },
      { afterPrintPaused: ["M117 paused"], beforePrintResumed: ["M117 resumed"], afterPrintCancelled: ["M117 cancelled"] },
    ),
    executed,
  );
  // The host's own pause and resume scripts (park, put back) are left out: the plugins' lines are under test.
  c.setScripts({ afterPrintPaused: "", beforePrintResumed: "" }, DEFAULT_PROFILE);
  const before = executed.length;
  expect((await c.startJob("ps25_ender3_torus_0.20normal_pla.gcode")).ok).toBe(true);
  await waitWhile(c, ["starting", "printing", "pausing", "resuming", "finishing"]);
  expect(c.status.job?.state).toBe("paused");
  await Bun.sleep(100);
  const file = (await Bun.file(TORUS).text()).split("\n").map(clean).filter(Boolean);
  const at = file.indexOf("G1 Z.4 F9000") + 1;
  expect(executed.slice(before)).toEqual([...file.slice(0, at), "M117 paused"]);
  expect(c.resumeJob().ok).toBe(true);
  await waitWhile(c, ["starting", "printing", "pausing", "resuming", "finishing"]);
  expect(c.status.job?.state).toBe("done");
  await Bun.sleep(100);
  expect(executed.slice(before)).toEqual([...file.slice(0, at), "M117 paused", "M117 resumed", ...file.slice(at)]);

  // Cancel: lines held back by a pending hook are not sent after the job ended.
  const again = executed.length;
  expect((await c.startJob("ps25_ender3_torus_0.20normal_pla.gcode")).ok).toBe(true);
  expect(c.cancelJob().ok).toBe(true);
  await Bun.sleep(300);
  const tail = executed.slice(again);
  expect(tail.slice(-4)).toEqual(["M104 S0", "M140 S0", "M107", "M117 cancelled"]);
  expect(tail.length).toBeLessThan(100);
  await c.dispose();
}, 60_000);
