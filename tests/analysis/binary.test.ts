/**
 * The analysis Worker is embedded in the compiled executable (build.ts ENTRYPOINTS) and found at
 * run time from an empty folder: an upload to the binary gets analysed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTarget } from "../../build.ts";
import { setUpAdmin } from "../helpers/host.ts";

const FLSUN = new URL("../fixtures/ps25_flsun_qqspro_delta_screw_0.20quality_pla_g3arcs_thumb.gcode", import.meta.url).pathname;
let dir: string;
let binary: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-analysis-bin-"));
  binary = await buildTarget("x64", { outfile: join(dir, "layerline") });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the compiled x64 binary analyses an upload in its embedded Worker", async () => {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  const cwd = mkdtempSync(join(dir, "run-"));
  const proc = Bun.spawn([binary, "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(cwd, "data")], { cwd, stdout: "ignore", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: cwd } });
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/api/v1/version`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error("no HTTP answer in time");
      await Bun.sleep(100);
    }
    const headers = { "x-api-key": await setUpAdmin(base) };
    const form = new FormData();
    form.append("file", Bun.file(FLSUN), "delta.gcode");
    expect((await fetch(`${base}/api/v1/files`, { method: "POST", body: form, headers })).status).toBe(201);
    let entry: any;
    while (Date.now() < deadline + 20_000) {
      entry = await (await fetch(`${base}/api/v1/files/delta.gcode`, { headers })).json();
      if (entry.analysis.state === "done" || entry.analysis.state === "error") break;
      await Bun.sleep(100);
    }
    expect(entry.analysis.state).toBe("done");
    expect(entry.analysis.summary.layerCount).toBe(130);
    expect(entry.thumbnails).toHaveLength(2);
  } finally {
    proc.kill();
    await proc.exited;
  }
}, 60_000);
