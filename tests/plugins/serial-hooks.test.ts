/**
 * The serial path's plugin stages, without a printer: the ordered pipeline (sync and async
 * hooks, lines held back, host commands re-entering) and the Worker's plugin host (rewrites in
 * plugin order, faults — throw, reject, overrun — skip the hook for that line and stop the
 * plugin after the limit, scripts, reload between two lines, `ctx.machine`).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MachineTracker } from "../../src/jobs/machine-state.ts";
import { FAULT_LIMIT, type LineStage } from "../../src/plugins/api.ts";
import type { MachineState } from "../../src/plugins/sdk.ts";
import { machineView } from "../../src/plugins/serial/machine-view.ts";
import { LinePipeline, type LineHooks } from "../../src/plugins/serial/pipeline.ts";
import type { SerialPluginReport, SerialPluginSpec } from "../../src/plugins/serial/protocol.ts";
import { WorkerPluginHost } from "../../src/plugins/serial/worker-host.ts";
import { writePlugin } from "./helpers.ts";

const root = mkdtempSync(join(tmpdir(), "layerline-hooks-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Hooks from plain functions, for the pipeline alone. */
function hooks(run: Partial<Record<LineStage, (line: string) => string[] | Promise<string[]>>>, script?: () => string[] | Promise<string[]>): LineHooks {
  return {
    hooks: (stage) => !!run[stage],
    hasScripts: () => !!script,
    run: (stage, line) => run[stage]!(line),
    script: () => script!(),
  };
}

describe("line pipeline", () => {
  test("without hooks a line is delivered at once", () => {
    const out: string[] = [];
    const p = new LinePipeline(undefined, ["queue", "send"], (l) => out.push(l), () => {});
    p.push("G1 X1", 1, "job");
    expect(out).toEqual(["G1 X1"]);
    expect(p.busy).toBe(false);
  });

  test("synchronous hooks rewrite, drop and multiply, stage after stage", () => {
    const out: [string, number][] = [];
    const p = new LinePipeline(
      hooks({ queue: (l) => (l === "M600" ? ["M117 change", "@pause"] : l === "M999" ? [] : [l]), send: (l) => [l.toLowerCase()] }),
      ["queue", "send"],
      (l, tag) => out.push([l, tag]),
      () => {},
    );
    p.push("G1 X1", 10, "job");
    p.push("M999", 20, "job");
    p.push("M600", 30, "job");
    expect(out).toEqual([["g1 x1", 10], ["m117 change", 30], ["@pause", 30]]);
  });

  test("an asynchronous hook holds later lines back, in order, then resumes", async () => {
    const out: string[] = [];
    let resumed = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const p = new LinePipeline(
      hooks({ send: (l) => (l === "SLOW" ? gate.then(() => ["SLOW done"]) : [l]) }),
      ["send"],
      (l) => out.push(l),
      () => resumed++,
    );
    p.push("A", 1, "job");
    p.push("SLOW", 2, "job");
    p.push("B", 3, "command");
    expect(out).toEqual(["A"]);
    expect(p.busy).toBe(true);
    release();
    await Bun.sleep(0);
    expect(out).toEqual(["A", "SLOW done", "B"]);
    expect(p.busy).toBe(false);
    expect(resumed).toBe(1);
  });

  test("when a job ends, its waiting lines are dropped (commands stay); a reset forgets a pending answer", async () => {
    const out: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const p = new LinePipeline(hooks({ send: (l) => (l === "SLOW" ? gate.then(() => [l]) : [l]) }), ["send"], (l) => out.push(l), () => {});
    p.push("SLOW", 5, "job");
    p.push("J2", 6, "job");
    p.push("C", -1, "command");
    p.dropTagged();
    release();
    await Bun.sleep(0);
    expect(out).toEqual(["C"]);
    const q = new LinePipeline(hooks({ send: () => new Promise(() => {}) }), ["send"], (l) => out.push(l), () => {});
    q.push("X", 1, "job");
    expect(q.busy).toBe(true);
    q.reset();
    expect(q.busy).toBe(false);
  });

  test("only stages some plugin hooks run, as plugins come and go between lines", () => {
    const out: string[] = [];
    const hooked = new Set<LineStage>();
    const ran: string[] = [];
    const h: LineHooks = {
      hooks: (stage) => hooked.has(stage),
      hasScripts: () => false,
      run: (stage, line) => (ran.push(stage), [`${line} ${stage}`]),
      script: () => [],
    };
    const p = new LinePipeline(h, ["queue", "send"], (l) => out.push(l), () => {});
    p.push("A", 1, "job");
    hooked.add("send");
    p.push("B", 2, "job");
    hooked.add("queue");
    p.push("C", 3, "job");
    hooked.delete("send");
    p.push("D", 4, "job");
    hooked.clear();
    p.push("E", 5, "job");
    expect(out).toEqual(["A", "B send", "C queue send", "D queue", "E"]);
    expect(ran).toEqual(["send", "queue", "send", "queue"]);
  });

  test("lines pushed while delivering (a host command's script) queue behind the rest", () => {
    const out: string[] = [];
    const p: LinePipeline = new LinePipeline(
      hooks({ queue: (l) => (l === "M600" ? ["@pause", "AFTER"] : [l]) }, () => ["PARK"]),
      ["queue"],
      (l) => {
        if (l === "@pause") p.pushScript("afterPrintPaused");
        else out.push(l);
      },
      () => {},
    );
    p.push("M600", 1, "job");
    expect(out).toEqual(["AFTER", "PARK"]);
  });
});

describe("the Worker's plugin host", () => {
  const spec = (id: string, entry: string, generation = 1, settings: Record<string, unknown> = {}): SerialPluginSpec => {
    const dir = writePlugin(root, { id, entry });
    return { id, dir, entry: join(dir, "index.ts"), generation, settings };
  };

  test("hooks of several plugins run in plugin order; scripts add lines; settings reach them", async () => {
    const reports: SerialPluginReport[] = [];
    const host = new WorkerPluginHost((r) => reports.push(r));
    host.attach({ id: "p1", name: "P1", job: () => ({ file: "a.gcode", state: "printing" }), machine: () => null });
    const a = spec("a-upper", `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { queue: (line, ctx) => ctx.source === "job" ? line.toUpperCase() : undefined } });`);
    const b = spec("b-double", `import { definePlugin } from "layerline";
export default definePlugin({
  gcode: { queue: (line, ctx) => line.startsWith("G") ? [line, \`\${line} ; \${ctx.printer.id} \${ctx.job?.file} \${ctx.settings.tag}\`] : line === "M0" ? null : undefined },
  scripts: { afterPrintDone: (ctx) => ["M117 done " + ctx.settings.tag] },
});`, 1, { tag: "x" });
    await host.update([a, b]);
    expect(reports.filter((r) => r.kind === "loaded").map((r) => r.plugin)).toEqual(["a-upper", "b-double"]);
    expect(host.hooks("queue")).toBe(true);
    expect(host.hooks("send")).toBe(false);
    expect(host.run("queue", "g1 x1", "job")).toEqual(["G1 X1", "G1 X1 ; p1 a.gcode x"]);
    expect(host.run("queue", "M0", "job")).toEqual([]);
    expect(host.run("queue", "g1 x1", "command")).toEqual(["g1 x1"]); // plugin a leaves commands alone; b wants upper case
    expect(host.script("afterPrintDone")).toEqual(["M117 done x"]);
    await host.update([a, { ...b, settings: { tag: "y" } }]);
    expect(host.script("afterPrintDone")).toEqual(["M117 done y"]);
    await host.update([a]);
    expect(host.hasScripts()).toBe(false);
  });

  const faulty: [string, string, (r: string[] | Promise<string[]>) => Promise<string[]>][] = [
    ["throws", `throw new Error("boom at " + line)`, async (r) => r],
    ["rejects", `return Promise.reject(new Error("async boom"))`, async (r) => r],
    ["never answers", `return new Promise(() => {})`, async (r) => r],
    ["overruns its budget synchronously", `const until = performance.now() + 80; while (performance.now() < until) {} return "REWRITTEN"`, async (r) => r],
    // Not a LineResult: guessing would drop lines of the print (an array without strings did).
    ["returns an array without lines", `return [42]`, async (r) => r],
    ["returns lines mixed with other things", `return ["M117 kept?", 42]`, async (r) => r],
    ["returns a number", `return 42`, async (r) => r],
    ["returns an object", `return { line }`, async (r) => r],
  ];
  for (const [what, body, settle] of faulty) {
    test(`a hook that ${what} is skipped for that line (the line goes on unchanged) and stopped after ${FAULT_LIMIT} faults`, async () => {
      const reports: SerialPluginReport[] = [];
      const host = new WorkerPluginHost((r) => reports.push(r));
      await host.update([spec(`bad-${what.split(" ")[0]}`, `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send(line) { if (line.startsWith("G1")) { ${body} } } } });`)]);
      const out: string[] = [];
      for (let i = 1; i <= FAULT_LIMIT + 2; i++) out.push(...(await settle(host.run("send", `G1 X${i}`, "job"))));
      out.push(...(await settle(host.run("send", "M105", "command"))));
      expect(out).toEqual(["G1 X1", "G1 X2", "G1 X3", "G1 X4", "G1 X5", "M105"]);
      const faults = reports.filter((r) => r.kind === "fault");
      expect(faults).toHaveLength(FAULT_LIMIT);
      if (what.startsWith("returns")) expect(faults[0]!.message).toMatch(/^returned .+, which is not a line, an array of lines, null or undefined$/);
      const disabled = reports.find((r) => r.kind === "disabled")!;
      expect(disabled.message).toContain(`stopped after ${FAULT_LIMIT} faults; the last: send hook`);
      expect(host.hooks("send")).toBe(false);
    }, 10_000);
  }

  test("ctx.machine: the running job's machine state as the host follows it, read-only; null without a job", async () => {
    const reports: SerialPluginReport[] = [];
    const host = new WorkerPluginHost((r) => reports.push(r));
    let machine: MachineState | null = null;
    host.attach({ id: "p1", name: "P1", job: () => null, machine: () => machine });
    await host.update([
      spec("machine-reader", `import { definePlugin } from "layerline";
export default definePlugin({
  gcode: { queue: (line, ctx) => [line, JSON.stringify(ctx.machine)] },
  scripts: { afterPrintPaused: (ctx) => [JSON.stringify({ ...ctx.machine }), Object.keys(ctx).sort().join(" ")] },
});`),
      spec("machine-writer", `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send(line, ctx) { ctx.machine.z = 99; } } });`),
    ]);
    expect(host.run("queue", "M105", "command")).toEqual(["M105", "null"]);

    // As the controller does: one view per job; each job line is fed to the tracker, then its hooks run.
    const tracker = new MachineTracker();
    machine = machineView(tracker);
    const seen = (line: string) => {
      tracker.apply(line);
      return JSON.parse((host.run("queue", line, "job") as string[])[1]!);
    };
    const start = { x: null, y: null, z: null, e: 0, absolute: true, absoluteE: true, feedrate: null, tool: 0 };
    expect(seen("M104 S200")).toEqual(start);
    expect(seen("G28")).toEqual({ ...start, x: 0, y: 0, z: 0 });
    expect(seen("G1 Z0.5 F600")).toEqual({ ...start, x: 0, y: 0, z: 0.5, feedrate: 600 });
    expect(seen("G1 X10 Y10 E1 F1200")).toEqual({ ...start, x: 10, y: 10, z: 0.5, e: 1, feedrate: 1200 });
    // G91 makes E relative too until M82/M83 says otherwise.
    expect(seen("G91")).toMatchObject({ absolute: false, absoluteE: false });
    expect(seen("G1 X5 Y-2 Z0.25 E0.5")).toMatchObject({ x: 15, y: 8, z: 0.75, e: 1.5 });
    expect(seen("M82")).toMatchObject({ absolute: false, absoluteE: true });
    expect(seen("G1 X1 E3")).toMatchObject({ x: 16, y: 8, e: 3 });
    expect(seen("G90")).toMatchObject({ absolute: true, absoluteE: true });
    expect(seen("M83")).toMatchObject({ absolute: true, absoluteE: false });
    expect(seen("G1 X20 E0.25")).toMatchObject({ x: 20, e: 3.25 });
    // After M83, G90/G91 leave E alone.
    expect(seen("G91")).toMatchObject({ absolute: false, absoluteE: false });
    expect(seen("G90")).toMatchObject({ absolute: true, absoluteE: false });
    expect(seen("G92 E0 Z5")).toMatchObject({ x: 20, y: 8, z: 5, e: 0 });
    expect(seen("G1 E2")).toMatchObject({ e: 2 });
    expect(seen("T1")).toEqual({ x: 20, y: 8, z: 5, e: 2, absolute: true, absoluteE: false, feedrate: 1200, tool: 1 });

    // Scripts see it too; spreading copies its values; it is part of every hook's ctx.
    const [copy, keys] = host.script("afterPrintPaused") as string[];
    expect(JSON.parse(copy!)).toEqual({ x: 20, y: 8, z: 5, e: 2, absolute: true, absoluteE: false, feedrate: 1200, tool: 1 });
    expect(keys).toBe("job log machine plugin printer script settings source state");

    // A plugin cannot change what the host's pause, resume and checkpoints rely on: the write throws (a fault).
    expect(host.run("send", "G1 X1", "job")).toEqual(["G1 X1"]);
    expect(reports.find((r) => r.kind === "fault")).toMatchObject({ plugin: "machine-writer", where: "send" });
    expect(tracker.z).toBe(5);

    machine = null; // the job ended
    expect(host.run("queue", "G1 X1", "command")).toEqual(["G1 X1", "null"]);
  });

  test("a reload swaps the new code in; a plugin that fails to load is reported and its old version goes on", async () => {
    const reports: SerialPluginReport[] = [];
    const host = new WorkerPluginHost((r) => reports.push(r));
    const s = spec("swap", `import { definePlugin } from "layerline";\nexport default definePlugin({ gcode: { send: (l) => l + " ;v1" } });`);
    await host.update([s]);
    expect(host.run("send", "G1", "job")).toEqual(["G1 ;v1"]);
    writeFileSync(s.entry, `import { definePlugin } from "layerline";\nexport default definePlugin({ gcode: { send: (l) => l + " ;v2" } });`);
    await host.update([{ ...s, generation: 2 }]);
    expect(host.run("send", "G1", "job")).toEqual(["G1 ;v2"]);
    writeFileSync(s.entry, `throw new Error("broken at load");`);
    await host.update([{ ...s, generation: 3 }]);
    expect(reports.at(-1)).toEqual({ kind: "loadFailed", plugin: "swap", message: "broken at load" });
    expect(host.run("send", "G1", "job")).toEqual(["G1 ;v2"]);
  });
});
