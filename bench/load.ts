/**
 * Load isolation (issue #3): the streaming rate of the built binary (3 × 15,712 lines through a
 * socat pty to an instant-ok peer, timed by the peer; the same file each time, uploaded and
 * analysed before, printed once before the rounds) alone, and while 50 HTTP clients poll the
 * printer's state and 20 SSE clients listen (10 on the JSON events, 10 on the dashboard's HTML
 * fragments). Polling is measured at two paces: every 500 ms per client (a browser tab's pace)
 * and back to back (each client asks again the moment it has its answer). The clients run on the
 * same machine, in a process of their own at the lowest CPU priority (see `load`), and stop by
 * themselves. Goal: the rate drops by less than 5 %.
 *
 * The machine is shared, so its background load drifts: the three configurations take turns
 * (alone, paced, flat out, alone, …), each rate is the median of its RUNS prints (15 by default;
 * with their range), and the drop is the median of each round's own drop (loaded vs alone in the
 * same round), which the drift affects least.
 *
 * While it prints, the host answers at most --print-read-rate reads a second (1,000 by default;
 * more wait their turn), so back-to-back polling meets that ceiling; PRINT_READ_RATE=0 runs the
 * host without it, to see what unpaced requests cost the print on this machine.
 *
 *   bun bench/load.ts   (builds dist/ if needed; needs socat and cc)
 */
import { DEFAULT_PRINT_READ_RATE } from "../src/server/pacing.ts";
import { benchFile, binary, buildPeer, median, printUploaded, ptyPair, scratch, startHost, startPeer, uploadFile } from "./serial-bench.ts";

const CLIENTS_NICE = Number(process.env.LOAD_CLIENTS_NICE ?? 19);
const dir = scratch();
const bin = await binary();
const peer = buildPeer(dir);
const file = await benchFile(3);
const RUNS = Number(process.env.RUNS ?? 15);

const pty = await ptyPair();
let p = startPeer(peer, pty.device);
// The host's read pacing while it prints (--print-read-rate; its default unless PRINT_READ_RATE says).
const READ_RATE = process.env.PRINT_READ_RATE;
const host = await startHost(bin, dir, pty.host, 115200, READ_RATE === undefined ? [] : ["--print-read-rate", READ_RATE]);
await host.waitFor(`/api/v1/printers/${host.printer}`, (x: any) => x.state === "operational" && x.firmware !== null);

/** One print of the file's rate, and when it streamed (unix ms, the peer's clock). */
async function rateOnce(): Promise<{ rate: number; from: number; to: number }> {
  const end = await printUploaded(host, "load.gcode");
  if (end.job.state !== "done") throw new Error(`the print ended ${end.job.state}: ${end.job.reason}`);
  const [s, e] = await Promise.all([p.started, p.ended]);
  // A fresh peer for the next run (its markers fire once).
  await p.stop();
  p = startPeer(peer, pty.device);
  await Bun.sleep(200);
  return { rate: (e.lines - s.lines) / ((e.ns - s.ns) / 1e9), from: s.ns / 1e6, to: e.ns / 1e6 };
}

/** Polls answered a second between `from` and `to` (unix ms), from the clients' "t" lines. */
function pollsDuring(out: string, from: number, to: number): number {
  const ticks = out.split("\n").filter((l) => l.startsWith("t ")).map((l) => l.split(" ").slice(1).map(Number) as [number, number]);
  // The ticks inside the print (20 ms apart): outside it reads are not paced, and a few ms of
  // that would add hundreds of polls to a print of a second.
  const first = ticks.find(([t]) => t >= from) ?? ticks.at(-1)!;
  const last = ticks.findLast(([t]) => t <= to) ?? first;
  return last[0] > first[0] ? ((last[1] - first[1]) * 1000) / (last[0] - first[0]) : 0;
}

/**
 * 50 pollers and 20 SSE listeners (bench/load-clients.ts) until `stop()`. They run in their own
 * process at the lowest CPU priority (nice 19 unless LOAD_CLIENTS_NICE says otherwise): they
 * stand in for browsers and apps on other machines, and what is measured is the host's work of
 * answering them, not the clients' own work of sending and reading taking this machine's cores.
 */
function load(intervalMs: number) {
  const clients = Bun.spawn(["nice", "-n", String(CLIENTS_NICE), process.execPath, new URL("./load-clients.ts", import.meta.url).pathname, host.url, host.key, host.printer, String(intervalMs)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  return {
    async stop(print: { from: number; to: number }): Promise<Figures> {
      clients.kill("SIGTERM");
      const out = await new Response(clients.stdout).text();
      await clients.exited;
      const figures = JSON.parse(out.trim().split("\n").at(-1)!);
      if (figures.failed) throw new Error(`${figures.failed} polls failed`);
      return { ...figures, whilePrinting: pollsDuring(out, print.from, print.to) };
    },
  };
}

const PACES = { alone: undefined, paced: 500, flat: 0 } as const;
const rates: Record<keyof typeof PACES, number[]> = { alone: [], paced: [], flat: [] };
interface Figures {
  /** Over the whole round (the print, and the upload and waits around it). */
  requestsPerSecond: number;
  /** While the print streamed (the host paces reads then). */
  whilePrinting: number;
  sseKBPerSecond: number;
}
const figures: Record<"paced" | "flat", Figures[]> = { paced: [], flat: [] };
// One file, uploaded and analysed before the rounds and printed once unmeasured: no upload or
// analysis (a Worker's work on these same two cores) overlaps a measured print, and every
// measured print finds the serial path compiled.
await uploadFile(host, "load.gcode", file, true);
await rateOnce();
for (let i = 0; i < RUNS; i++) {
  for (const name of ["alone", "paced", "flat"] as const) {
    const pace = PACES[name];
    const running = pace === undefined ? undefined : load(pace);
    if (running) await Bun.sleep(1000);
    const print = await rateOnce();
    rates[name].push(print.rate);
    if (running) figures[name as "paced" | "flat"].push(await running.stop(print));
  }
}
await host.stop();
await p.stop();
await pty.close();

/** Each round's drop under a load, in % of that round's rate alone. */
const drops = (name: "paced" | "flat") => rates[name].map((r, i) => ((rates.alone[i]! - r) / rates.alone[i]!) * 100);
const drop = (name: "paced" | "flat") => median(drops(name));
const spread = (xs: number[], digits = 0) => `${Math.min(...xs).toFixed(digits)} to ${Math.max(...xs).toFixed(digits)}`;
const row = (label: string, name: keyof typeof PACES) => {
  const m = median(rates[name]);
  const load =
    name === "alone"
      ? ""
      : `  ${drop(name).toFixed(1)} % lower [${spread(drops(name), 1)}]; ${median(figures[name].map((f) => f.whilePrinting)).toFixed(0)} polls/s answered while printing (${median(figures[name].map((f) => f.requestsPerSecond)).toFixed(0)} over the round), ${median(figures[name].map((f) => f.sseKBPerSecond)).toFixed(0)} KB/s of SSE`;
  console.log(`  ${label.padEnd(52)} ${m.toFixed(0).padStart(6)} lines/s [${spread(rates[name])}]${load}`);
};
const pacing = READ_RATE === undefined ? `${DEFAULT_PRINT_READ_RATE} a second (the default)` : READ_RATE === "0" ? "off (--print-read-rate 0)" : `${READ_RATE} a second`;
console.log(`streaming rate of the binary (47,136 lines, pty, instant-ok peer; median of ${RUNS} rounds of the three configurations; [range]; reads paced while printing: ${pacing}):`);
row("alone", "alone");
row("50 clients polling every 500 ms + 20 SSE listeners", "paced");
row("50 clients polling back to back + 20 SSE listeners", "flat");
const pacedDrop = drop("paced");
const flatDrop = drop("flat");
console.log(`  → goal (< 5 % lower): ${pacedDrop < 5 ? "met" : "NOT met"} at a browser's pace, ${flatDrop < 5 ? "met" : "NOT met"} flat out (${navigator.hardwareConcurrency} CPU cores shared by the host, socat, the peer and the clients at nice ${CLIENTS_NICE})`);
