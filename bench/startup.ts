/**
 * Start-up and footprint of the compiled x64 binary: file sizes, time from exec to the first
 * HTTP answer, and resident memory after idling with the virtual printer connected
 * (max RSS as reported by /usr/bin/time -v over the whole run).
 *
 *   bun bench/startup.ts   (builds dist/ from the current source first)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTarget } from "../build.ts";

const ROOT = join(import.meta.dir, "..");
const x64 = join(ROOT, "dist/layerline-linux-x64");
const arm64 = join(ROOT, "dist/layerline-linux-arm64");
// Always from the current source: a stale dist/ would measure another version.
await buildTarget("x64");
await buildTarget("arm64");

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
console.log(`binary size: x64 ${mb(Bun.file(x64).size)}, arm64 ${mb(Bun.file(arm64).size)}`);

const IDLE_S = 10;
const runs: number[] = [];
let rssKb = 0;
for (let i = 0; i < 5; i++) {
  const dir = mkdtempSync(join(tmpdir(), "layerline-bench-"));
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  const started = performance.now();
  // The report goes to its own file: on stderr it would share the pipe with the host's output.
  const reportFile = join(dir, "time-report.txt");
  const proc = Bun.spawn(["/usr/bin/time", "-v", "-o", reportFile, x64, "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(dir, "data")], {
    cwd: dir,
    stdout: "ignore",
    stderr: "ignore",
  });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/v1/version`)).ok) break;
    } catch {
      // not yet listening
    }
    await Bun.sleep(2);
  }
  runs.push(performance.now() - started);
  if (i === 0) {
    // Idle with the virtual printer connected and auto-reporting, then read the peak RSS.
    await Bun.sleep(IDLE_S * 1000);
  }
  // /usr/bin/time waits for its child and ignores SIGINT itself: signal the host directly.
  const child = (await Bun.file(`/proc/${proc.pid}/task/${proc.pid}/children`).text()).trim().split(/\s+/)[0];
  if (child) process.kill(Number(child), "SIGINT");
  await proc.exited;
  const report = await Bun.file(reportFile).text();
  if (i === 0) rssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1] ?? 0);
  rmSync(dir, { recursive: true, force: true });
}
runs.sort((a, b) => a - b);
console.log(`start to first HTTP answer: median ${runs[2]!.toFixed(0)} ms (min ${runs[0]!.toFixed(0)}, max ${runs[4]!.toFixed(0)}) over 5 fresh starts`);
console.log(`resident memory after ${IDLE_S} s idle with the virtual printer: ${(rssKb / 1024).toFixed(1)} MB (max RSS)`);
