/**
 * Streaming throughput and planner feeding (issue #3).
 *
 * 1. Lines per second and CPU seconds per 10,000 lines for the built binary (median of 3 runs),
 *    streaming a real slicer file (15,712 lines) through a socat pty to an instant-ok peer, side by side with
 *    Debian's printcore on the same file and the same kind of pty. The peer times both from its
 *    side (first and last line of the file); CPU is the host process's user+system time between
 *    those two moments, read from /proc. Goals: ≥ 5× printcore's lines/s, ≤ 1/5 of its CPU per line.
 * 2. Planner underruns in the virtual printer's realistic timing mode (115200 baud, 128-byte
 *    receive buffer, real-time planner) for 0.2 mm segments at 60 mm/s, one line in flight vs the
 *    ADVANCED_OK window. Goal: zero underruns with the window on.
 *
 *   bun bench/stream.ts   (builds dist/ if needed; needs socat, cc, printcore from Debian's printrun)
 */
import { join } from "node:path";
import { smallSegments } from "../tests/virtual/sim.ts";
import { benchFile, binary, buildPeer, cpuSeconds, median, printFile, ptyPair, scratch, startHost, startPeer } from "./serial-bench.ts";

const dir = scratch();
const bin = await binary();
const peer = buildPeer(dir);
const file = await benchFile();
const fileLines = file.split("\n").filter((l) => l.trim() && !l.startsWith(";")).length;

interface Figures {
  lines: number;
  seconds: number;
  cpu: number;
}

/** Times one host streaming the file to the peer: the peer's markers, the host's CPU between them. */
async function timed(pid: () => number, run: (hostTty: string) => Promise<void>, advancedOk = false): Promise<Figures> {
  const pty = await ptyPair();
  let cpuAtStart = 0;
  let cpuAtEnd = 0;
  const p = startPeer(
    peer,
    pty.device,
    (kind) => {
      if (kind === "start") cpuAtStart = cpuSeconds(pid());
      else cpuAtEnd = cpuSeconds(pid());
    },
    advancedOk,
  );
  try {
    await run(pty.host);
    const [s, e] = await Promise.all([p.started, p.ended]);
    return { lines: e.lines - s.lines, seconds: (e.ns - s.ns) / 1e9, cpu: cpuAtEnd - cpuAtStart };
  } finally {
    await p.stop();
    await pty.close();
  }
}

// --- Layerline (the built binary): one line in flight (a peer that answers a plain ok), and the
// window (a peer that answers like Marlin with ADVANCED_OK)
let hostPid = 0;
async function layerlineRun(hostTty: string): Promise<void> {
  const host = await startHost(bin, dir, hostTty);
  hostPid = host.pid;
  await host.waitFor(`/api/v1/printers/${host.printer}`, (p: any) => p.state === "operational" && p.firmware !== null);
  const end = await printFile(host, "bench.gcode", file);
  if (end.job.state !== "done") throw new Error(`the print ended ${end.job.state}: ${end.job.reason}`);
  await host.stop();
}
/** Layerline's runs are short: the median (by rate) of three. */
async function threeRuns(advancedOk: boolean): Promise<Figures> {
  const runs: Figures[] = [];
  for (let i = 0; i < 3; i++) runs.push(await timed(() => hostPid, layerlineRun, advancedOk));
  const m = median(runs.map((r) => r.lines / r.seconds));
  return runs.find((r) => r.lines / r.seconds === m)!;
}
const layerline = await threeRuns(false);
const layerlineWindowed = await threeRuns(true);

// --- printcore (Debian's printrun), same file, same kind of pty
let printcorePid = 0;
const printcore = await timed(
  () => printcorePid,
  async (hostTty) => {
    const path = join(dir, "bench.gcode");
    await Bun.write(path, file);
    const proc = Bun.spawn(["printcore", "-b", "115200", hostTty, path], { stdout: "ignore", stderr: "ignore" });
    printcorePid = proc.pid;
    if ((await proc.exited) !== 0) throw new Error("printcore failed");
  },
);

const rate = (f: Figures) => f.lines / f.seconds;
const cpu10k = (f: Figures) => (f.cpu / f.lines) * 10_000;
const row = (name: string, f: Figures) =>
  console.log(`  ${name.padEnd(40)} ${rate(f).toFixed(0).padStart(6)} lines/s   ${cpu10k(f).toFixed(3)} CPU-s per 10,000 lines   (${f.lines} lines in ${f.seconds.toFixed(2)} s)`);
console.log(`streaming ${fileLines} lines of ps25_ender3_torus through a socat pty to an instant-ok peer:`);
row("layerline (binary), 1 line in flight", layerline);
row("printcore (1 line in flight)", printcore);
row("layerline (binary), ADVANCED_OK window", layerlineWindowed);
const speedup = rate(layerline) / rate(printcore);
const cpuRatio = cpu10k(layerline) / cpu10k(printcore);
console.log(`  → one line in flight each: ${speedup.toFixed(1)}× printcore's rate (goal ≥ 5×: ${speedup >= 5 ? "met" : "NOT met"}), ${(cpuRatio * 100).toFixed(1)} % of its CPU per line (goal ≤ 20 %: ${cpuRatio <= 0.2 ? "met" : "NOT met"})`);
console.log(`    (printcore sleeps 1 ms between its checks for an ok, so it uses little CPU per line but sends few lines a second)`);
const wCpu = cpu10k(layerlineWindowed) / cpu10k(printcore);
console.log(`  → with the window: ${(rate(layerlineWindowed) / rate(printcore)).toFixed(1)}× printcore's rate, ${(wCpu * 100).toFixed(1)} % of its CPU per line (goal ≤ 20 %: ${wCpu <= 0.2 ? "met" : "NOT met"})`);

// --- Planner underruns in realistic timing: 0.2 mm segments at 60 mm/s over 115200 baud
const SEGMENTS = 3000; // 600 mm at 60 mm/s: 10 s of motion
async function underruns(window: number): Promise<{ underruns: number; starvedMs: number; overruns: number; seconds: number; linkWindow: number }> {
  const pty = await ptyPair();
  const printer = Bun.spawn([bin, "virtual-printer", "--tty", pty.device, "--realistic", "--advanced-ok", "--stats"], { stdout: "ignore", stderr: "pipe" });
  const host = await startHost(bin, dir, pty.host);
  try {
    await host.waitFor(`/api/v1/printers/${host.printer}`, (p: any) => p.state === "operational" && p.firmware !== null && p.sd.files.length > 0);
    await host.api(`/api/v1/printers/${host.printer}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ window }) });
    const started = performance.now();
    const end = await printFile(host, `segments-${window}.gcode`, `${[...smallSegments(SEGMENTS)].join("\n")}\n`);
    const seconds = (performance.now() - started) / 1000;
    if (end.job.state !== "done") throw new Error(`the print ended ${end.job.state}: ${end.job.reason}`);
    await host.stop();
    printer.kill("SIGINT");
    await printer.exited;
    const stats = JSON.parse((await new Response(printer.stderr).text()).trim().split("\n").at(-1)!);
    return { underruns: stats.underruns, starvedMs: stats.starvedMs, overruns: stats.overruns, seconds, linkWindow: end.link.window };
  } finally {
    printer.kill();
    await pty.close();
  }
}

const pingPong = await underruns(1);
const windowed = await underruns(4);
console.log(`\nrealistic timing (115200 baud, 128-byte RX buffer, real-time planner): ${SEGMENTS} segments of 0.2 mm at 60 mm/s (${(SEGMENTS * 0.2 / 60).toFixed(0)} s of motion)`);
for (const [name, r] of [["one line in flight", pingPong], ["windowed (ADVANCED_OK)", windowed]] as const) {
  console.log(`  ${name.padEnd(24)} ${String(r.underruns).padStart(5)} planner underruns, starved ${(r.starvedMs / 1000).toFixed(2)} s, ${r.overruns} RX overruns, print took ${r.seconds.toFixed(1)} s (window ${r.linkWindow})`);
}
console.log(`  → zero underruns with the window on: ${windowed.underruns === 0 ? "met" : "NOT met"}`);
