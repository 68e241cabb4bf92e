/**
 * Plugins on the real serial path: the host drives a socat pty at 250000 baud; the virtual
 * printer runs in another process on the other end and logs every command it executes. A plugin
 * reloaded in the middle of a print changes the lines after the switch and nothing else — every
 * line of the file still arrives once, in order. A send hook that throws or never answers is
 * skipped for those lines; the plugin is disabled with a notice; the print finishes — also when
 * the hook never returns at all (its thread is restarted and the print goes on).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { clean } from "../../src/protocol/framing.ts";
import { upload, type TestHost, jobEnded } from "../helpers/host.ts";
import { startPtyPrinter, type PtyPrinter } from "../helpers/pty-printer.ts";
import { writePlugin } from "./helpers.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

let rig: PtyPrinter;
let host: TestHost;
let printer: string;
const executed = () => rig.executed();
const expected = async () => (await Bun.file(TORUS).text()).split("\n").map(clean).filter(Boolean);
const pluginsDir = () => join(rig.dataDir, "plugins");

beforeAll(async () => {
  rig = await startPtyPrinter({ plugins: { bundledDirs: [] } });
  ({ host, printer } = rig);
  expect((await upload(host, "torus.gcode", Bun.file(TORUS))).status).toBe(201);
}, 30_000);

afterAll(() => rig?.close());

/** Waits until the plugin runs (main thread and the printer's Worker) at `generation` or later. */
async function running(id: string, generation = 1) {
  return host.waitFor(`/api/v1/plugins/${id}`, (p: any) => p.state === "enabled" && p.generation >= generation && p.printersRunning.includes(printer), 15_000);
}

/** Prints the torus and returns what the firmware executed for it. */
async function print(during?: () => Promise<void>): Promise<{ lines: string[]; job: any }> {
  const before = (await executed()).length;
  expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "torus.gcode" })).status).toBe(200);
  await during?.();
  const done = await host.waitFor(`/api/v1/printers/${printer}`, jobEnded, 120_000);
  // The last lines may still be on their way into the log file.
  await Bun.sleep(200);
  return { lines: (await executed()).slice(before), job: done.job };
}

describe("plugins on the serial path", () => {
  test("a plugin reloaded during a print: the print finishes, every line once, the new code from the switch on", async () => {
    // v1 slows each line a little (well inside the budget) so the print lasts a few seconds.
    writePlugin(pluginsDir(), {
      id: "relay",
      entry: `import { definePlugin } from "layerline";
import { rewrite } from "./rewrite.ts";
export default definePlugin({
  gcode: {
    send(line, ctx) {
      const until = performance.now() + 0.3;
      while (performance.now() < until) {}
      return rewrite(line);
    },
  },
});`,
      // Both versions write moves as G01 (the same command to the firmware): every move executed
      // as G01 proves no line went past without the plugin, not even during the reload.
      files: { "rewrite.ts": `export const rewrite = (line: string): string | undefined => (line.startsWith("G1 ") ? "G01" + line.slice(2) : undefined);` },
    });
    await running("relay", 1);
    const { lines, job } = await print(async () => {
      await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.progress?.completion > 3, 20_000);
      // Only the helper module changes: the reload must pick up every module of the plugin.
      writeFileSync(
        join(pluginsDir(), "relay", "rewrite.ts"),
        `export const rewrite = (line: string): string | undefined => (line.startsWith("G1 ") ? "G01" + line.slice(2) : line === "M107" ? "M106 S0" : undefined);`,
      );
      await running("relay", 2);
      const now = ((await (await host.api(`/api/v1/printers/${printer}`)).json()) as any);
      expect(now.job.state).toBe("printing"); // reloaded while printing
    });
    expect(job.state).toBe("done");
    const want = await expected();
    expect(lines.length).toBe(want.length);
    // Line for line the file: every move as G01, M107 → M106 S0 from some point on.
    let switched = -1;
    let moves = 0;
    for (let i = 0; i < want.length; i++) {
      if (want[i]!.startsWith("G1 ")) {
        if (lines[i] !== `G01${want[i]!.slice(2)}`) expect([i, lines[i]]).toEqual([i, `G01${want[i]!.slice(2)}`]);
        moves++;
        continue;
      }
      if (lines[i] === want[i]) {
        if (want[i] === "M107") expect(switched).toBe(-1);
        continue;
      }
      expect([want[i], lines[i]]).toEqual(["M107", "M106 S0"]);
      if (switched < 0) switched = i;
    }
    expect(moves).toBeGreaterThan(14_000);
    expect(lines.slice(0, 40)).toContain("M107"); // before the reload, unchanged
    expect(switched).toBe(want.indexOf("M107", 100)); // after it, rewritten (the file's last M107s)
    expect((await (await host.api("/api/v1/plugins/relay", { method: "DELETE" })).status)).toBe(204);
  }, 120_000);

  const faulty: [string, string][] = [
    ["throws", `if (++ctx.state.n % 1500 === 0) throw new Error("line " + ctx.state.n + " is one too many");`],
    ["never answers", `if (++ctx.state.n % 1500 === 0) return new Promise(() => {});`],
  ];
  for (const [what, body] of faulty) {
    test(`a send hook that ${what}: the print finishes with every line once, the plugin is disabled, the user is told`, async () => {
      const id = `faulty-${what.split(" ")[0]}`;
      writePlugin(pluginsDir(), {
        id,
        entry: `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send(line, ctx) { ctx.state.n = ((ctx.state.n as number) ?? 0); ${body} } } });`,
      });
      await running(id);
      const { lines, job } = await print();
      expect(job.state).toBe("done");
      expect(lines).toEqual(await expected());
      const p = (await (await host.api(`/api/v1/plugins/${id}`)).json()) as any;
      expect(p.state).toBe("disabled");
      expect(p.reason).toMatch(what === "throws" ? /^disabled after 3 faults; the last: send hook \(printer [a-z0-9-]+\) threw: line \d+ is one too many$/ : /^disabled after 3 faults; the last: send hook \(printer [a-z0-9-]+\) did not answer within 50 ms$/);
      const { notices } = (await (await host.api("/api/v1/plugins/notices")).json()) as any;
      expect(notices.some((n: any) => n.plugin === id && n.level === "error" && n.message.includes("Printing goes on without it"))).toBe(true);
      expect(await (await host.api("/ui/plugins/notices")).text()).toContain(`data-plugin="${id}"`);
    }, 120_000);
  }

  test("a send hook stuck in an endless loop: the printer's thread is restarted without it, and the print goes on to the end, every line once", async () => {
    const id = "faulty-loop";
    writePlugin(pluginsDir(), {
      id,
      entry: `import { definePlugin } from "layerline";
export default definePlugin({ gcode: { send(line, ctx) {
  ctx.state.n = ((ctx.state.n as number) ?? 0) + 1;
  if (ctx.state.n === 6000) for (;;) {}
  // Half a millisecond a line, so the print has run a few seconds (and left checkpoints) by then.
  const until = performance.now() + 0.5;
  while (performance.now() < until) {}
} } });`,
    });
    await running(id);
    const at = `/api/v1/printers/${printer}`;
    // While a print streams the watchdog gives the thread 1.5 s; the new thread takes the tty over
    // and goes on with the same job from the first line not sent.
    const { lines, job } = await print(async () => {
      await host.waitFor(at, (p: any) => (p.job?.notes?.length ?? 0) > 0, 30_000);
    });
    expect(job.state).toBe("done");
    expect(lines.filter((l) => !l.startsWith("M110"))).toEqual(await expected());
    const p = (await (await host.api(`/api/v1/plugins/${id}`)).json()) as any;
    expect(p.state).toBe("disabled");
    expect(p.reason).toBe(`disabled because its send hook never returned (for 1.5 s) on printer ${printer}, whose thread was restarted without it; the print there went on`);
    const { notices } = (await (await host.api("/api/v1/plugins/notices")).json()) as any;
    expect(notices.some((n: any) => n.plugin === id && n.level === "error" && n.message.includes("The print went on without it"))).toBe(true);
    expect(job.notes[0]).toContain(`the plugin ${id} (its send hook) never returned`);
  }, 120_000);
});
