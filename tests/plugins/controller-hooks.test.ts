/**
 * The printer controller with plugin hooks (as its Worker runs them), against the in-process
 * virtual printer: lines rewritten on the way out and in, scripts at the right moments, `@pause`
 * from a hook, an asynchronous hook that holds lines back without losing or reordering any, and
 * the job's machine state the hooks read (`ctx.machine`).
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MachineTracker } from "../../src/jobs/machine-state.ts";
import type { LineStage, ScriptName } from "../../src/plugins/api.ts";
import type { LineHooks } from "../../src/plugins/serial/pipeline.ts";
import type { SerialPluginReport } from "../../src/plugins/serial/protocol.ts";
import { WorkerPluginHost } from "../../src/plugins/serial/worker-host.ts";
import type { LineSource, MachineState } from "../../src/plugins/sdk.ts";
import { DEFAULT_PROFILE } from "../../src/printers/profile.ts";
import { PrinterController } from "../../src/printers/controller.ts";
import { loadQuirkSources } from "../../src/printers/quirks-sources.ts";
import { clean } from "../../src/protocol/framing.ts";
import { QuirksLibrary } from "../../src/protocol/quirks-library.ts";
import { writePlugin } from "./helpers.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

async function controller(hooks: LineHooks, executed: string[], filesDir = dirname(TORUS)) {
  const { sources } = await loadQuirkSources(undefined);
  const c = new PrinterController({
    record: { id: "t", name: "t", transport: "virtual", port: null, baud: 115200, window: 4, autoconnect: true, isDefault: true, createdAt: 0 },
    library: new QuirksLibrary(sources),
    filesDir,
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

test("the job's machine state (ctx.machine): a job line is in it when the line enters the plugin stages; null without a host job", async () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-machine-"));
  const file = ["G28", "G90", "M82", "G92 E0", "G1 Z0.5 F600", "G1 X10 Y10 E1 F1200", "G91", "G1 X5 Y-2 Z0.25 E0.5", "G90", "M83", "G1 X20 E0.25", "G92 E0", "G1 Z1", "M117 paused here", "G1 X30 E1", "T1"];
  writeFileSync(join(dir, "modes.gcode"), `${file.join("\n")}\n`);
  const executed: string[] = [];
  const seen: { stage: string; line: string; source: LineSource; machine: MachineState | null }[] = [];
  let c: PrinterController | undefined;
  // As a plugin reads it through the Worker's PrinterView (copied here to compare later).
  const record = (stage: string, line: string, source: LineSource) => seen.push({ stage, line, source, machine: c?.machine ? { ...c.machine } : null });
  const hooks: LineHooks = {
    hooks: (s) => s !== "receive",
    hasScripts: () => true,
    run: (stage, line, source) => {
      record(stage, line, source);
      return line === "M117 paused here" && stage === "queue" ? [line, "@pause"] : [line];
    },
    script: (name) => {
      record(name, "", "script");
      return [];
    },
  };
  try {
    c = await controller(hooks, executed, dir);
    c.setScripts({ afterPrintPaused: "", beforePrintResumed: "" }, DEFAULT_PROFILE);
    expect(c.machine).toBeNull();
    expect(c.send(["M105"]).ok).toBe(true);
    expect(seen.at(-1)).toMatchObject({ line: "M105", source: "command", machine: null });
    expect((await c.startJob("modes.gcode")).ok).toBe(true);
    const view = c.machine;
    expect(view).not.toBeNull();
    await waitWhile(c, ["starting", "printing", "pausing"]);
    expect(c.status.job?.state).toBe("paused");
    // The same view all job long: nothing is made per line.
    expect(c.machine).toBe(view);

    // Each job line's queue and send hooks see the tracker with that line applied.
    const tracker = new MachineTracker();
    const at = file.indexOf("M117 paused here") + 1;
    const jobLines = seen.filter((s) => s.source === "job");
    expect(jobLines.map((s) => `${s.stage} ${s.line}`)).toEqual(file.slice(0, at).flatMap((l) => [`queue ${l}`, `send ${l}`]).concat("send @pause"));
    file.slice(0, at).forEach((line, i) => {
      tracker.apply(line);
      const expected = { x: tracker.x, y: tracker.y, z: tracker.z, e: tracker.e, absolute: !tracker.relative, absoluteE: !tracker.relativeE, feedrate: tracker.feedrate, tool: tracker.tool };
      expect([jobLines[2 * i]!.machine, jobLines[2 * i + 1]!.machine]).toEqual([expected, expected]);
    });
    // Before the file's first line: the start state; at the pause: where the print stopped.
    expect(seen.find((s) => s.stage === "beforePrintStarted")?.machine).toEqual({ x: null, y: null, z: null, e: 0, absolute: true, absoluteE: true, feedrate: null, tool: 0 });
    expect(seen.find((s) => s.stage === "afterPrintPaused")?.machine).toEqual({ x: 20, y: 8, z: 1, e: 0, absolute: true, absoluteE: false, feedrate: 1200, tool: 0 });

    expect(c.resumeJob().ok).toBe(true);
    await waitWhile(c, ["printing", "resuming", "finishing"]);
    expect(c.status.job?.state).toBe("done");
    expect(seen.filter((s) => s.source === "job").at(-1)).toMatchObject({ line: "T1", machine: { x: 30, e: 1, tool: 1 } });
    // The job is over: no machine state, for hooks and scripts alike.
    expect(c.machine).toBeNull();
    c.send(["M105"]);
    expect(seen.at(-1)).toMatchObject({ line: "M105", machine: null });
  } finally {
    await c?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test("a send hook that makes a line too long for the firmware: the plugin's fault, that line is left out, the print goes on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-long-line-"));
  const file = Array.from({ length: 40 }, (_, i) => `G1 X${i + 1} F1200`);
  writeFileSync(join(dir, "short.gcode"), `${file.join("\n")}\n`);
  const pluginDir = writePlugin(dir, {
    id: "long-line",
    entry: `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send: (line, ctx) => (ctx.source === "job" && line === "G1 X30 F1200" ? "M117 " + "x".repeat(200) : undefined) } });`,
  });
  const reports: SerialPluginReport[] = [];
  const plugins = new WorkerPluginHost((r) => reports.push(r));
  await plugins.update([{ id: "long-line", dir: pluginDir, entry: join(pluginDir, "index.ts"), generation: 1, settings: {} }]);
  const executed: string[] = [];
  let c: PrinterController | undefined;
  try {
    c = await controller(plugins, executed, dir);
    const before = executed.length;
    expect((await c.startJob("short.gcode")).ok).toBe(true);
    await waitWhile(c, ["starting", "printing", "finishing"]);
    expect(c.status.job?.state).toBe("done");
    expect(executed.slice(before).filter((l) => l.startsWith("G1 X"))).toEqual(file.filter((l) => l !== "G1 X30 F1200"));
    expect(reports.filter((r) => r.kind === "fault")).toEqual([
      { kind: "fault", plugin: "long-line", where: "send", message: expect.stringMatching(/^made a line of \d{3} characters \(line number and checksum included\), more than the \d+ this firmware reads; that line was not sent and the print went on$/) },
    ]);
  } finally {
    await c?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
