/**
 * The serial path's plugin stages, without a printer: the ordered pipeline (sync and async
 * hooks, lines held back, host commands re-entering) and the Worker's plugin host (rewrites in
 * plugin order, faults — throw, reject, overrun — skip the hook for that line and stop the
 * plugin after the limit, scripts, reload between two lines).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FAULT_LIMIT, type LineStage } from "../../src/plugins/api.ts";
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
    host.attach({ id: "p1", name: "P1", job: () => ({ file: "a.gcode", state: "printing" }) });
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
      expect(reports.filter((r) => r.kind === "fault")).toHaveLength(FAULT_LIMIT);
      const disabled = reports.find((r) => r.kind === "disabled")!;
      expect(disabled.message).toContain(`stopped after ${FAULT_LIMIT} faults; the last: send hook`);
      expect(host.hooks("send")).toBe(false);
    }, 10_000);
  }

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
