/**
 * Load isolation (issue #3): the streaming rate of the built binary (20 × 15,712 lines through a
 * socat pty to an instant-ok peer; one file, uploaded and analysed before, printed once before the
 * measured prints) without load and while 50 HTTP clients poll the printer's state and 20 SSE
 * clients listen (10 on the JSON events, 10 on the dashboard's HTML fragments). Polling at two
 * paces: every 500 ms per client (a browser tab's pace) and back to back (each client asks again
 * the moment it has its answer). The clients run on the same machine, in a process of their own
 * at the lowest CPU priority (see `clients`), and stop by themselves. Goal: the rate drops by less
 * than 5 %.
 *
 * How: this 2-core machine sometimes runs the whole ping-pong (host, socat, peer) at half speed
 * for a second or so, loaded or not, so prints compared one after the other differ by ±50 %. The
 * load is switched on and off every SEGMENT_MS (300 ms) *within* each print instead: the peer
 * reports every 250th line with its time, each segment's rate is taken from those (after the
 * first 50 ms, while the switch settles), and each loaded segment is compared with the mean of
 * the two unloaded ones around it. The drop is the median of those pairs over PRINTS prints (3).
 * Switching on, the listeners connect again and every poller asks at once: that burst is counted.
 *
 * The control: the same clients answered by a bare Bun server in another process at the web
 * thread's priority (bench/load-control.ts: the same status JSON, the same pace, SSE pushes of
 * about the same size), during prints of the same host — what answering them costs the print on
 * this machine when the server does nothing else, next to what it costs when Layerline answers.
 *
 * While it prints, the host answers at most --print-read-rate reads a second (250 by default;
 * more wait their turn), so back-to-back polling meets that ceiling; PRINT_READ_RATE=n runs the
 * host with another (0: none), to see what unpaced requests cost the print on this machine.
 *
 *   bun bench/load.ts   (builds dist/ if needed; needs socat and cc)
 */
import { DEFAULT_PRINT_READ_RATE } from "../src/server/pacing.ts";
import { benchFile, binary, buildPeer, commandLines, freePort, median, printUploaded, ptyPair, scratch, startHost, startPeer, uploadFile } from "./serial-bench.ts";

const CLIENTS_NICE = Number(process.env.LOAD_CLIENTS_NICE ?? 19);
const SEGMENT_MS = Number(process.env.SEGMENT_MS ?? 300);
const SETTLE_MS = 50;
const PRINTS = Number(process.env.PRINTS ?? 3);
const TIMES = 20;
const dir = scratch();
const bin = await binary();
const peer = buildPeer(dir);
const file = await benchFile(TIMES);

const pty = await ptyPair();
let p = startPeer(peer, pty.device);
const READ_RATE = process.env.PRINT_READ_RATE;
const host = await startHost(bin, dir, pty.host, 115200, READ_RATE === undefined ? [] : ["--print-read-rate", READ_RATE]);
await host.waitFor(`/api/v1/printers/${host.printer}`, (x: any) => x.state === "operational" && x.firmware !== null);

/** 50 pollers and 20 SSE listeners (bench/load-clients.ts), switched off until `on()`. */
async function clients(intervalMs: number, url: string) {
  // Their own process at the lowest priority (nice 19 unless LOAD_CLIENTS_NICE says otherwise): they
  // stand in for browsers and apps on other machines; what is measured is the host's work of
  // answering them, not their own work of sending and reading taking this machine's cores.
  const proc = Bun.spawn(["nice", "-n", String(CLIENTS_NICE), process.execPath, new URL("./load-clients.ts", import.meta.url).pathname, url, host.key, host.printer, String(intervalMs)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = proc.stdout.getReader();
  await out.read(); // "ready": the signal handlers are in place
  return {
    on: () => proc.kill("SIGUSR2"),
    off: () => proc.kill("SIGUSR1"),
    async stop(): Promise<{ pollsPerSecond: number; sseKBPerSecond: number }> {
      proc.kill("SIGTERM");
      let text = "";
      for (let r = await out.read(); !r.done; r = await out.read()) text += new TextDecoder().decode(r.value);
      await proc.exited;
      const figures = JSON.parse(text.trim().split("\n").at(-1)!);
      if (figures.failed) throw new Error(`${figures.failed} polls failed`);
      return figures;
    },
  };
}

interface Segment {
  loaded: boolean;
  rate: number;
}

/** One print with the load switched every SEGMENT_MS; its segments' rates, in order. */
async function alternatingPrint(load: Awaited<ReturnType<typeof clients>>): Promise<Segment[]> {
  await p.stop();
  p = startPeer(peer, pty.device); // a fresh peer: its markers fire once
  await Bun.sleep(200);
  const switches: { ms: number; loaded: boolean }[] = [{ ms: Date.now(), loaded: false }];
  let printing = true;
  const switcher = (async () => {
    for (let loaded = true; ; loaded = !loaded) {
      await Bun.sleep(SEGMENT_MS);
      if (!printing) break;
      if (loaded) load.on();
      else load.off();
      switches.push({ ms: Date.now(), loaded });
    }
  })();
  // Off at the last line: the host paces reads only while it prints, and unpaced polls after the
  // print would count as answered while on.
  void p.ended.then(() => {
    printing = false;
    load.off();
  });
  const end = await printUploaded(host, "load.gcode");
  await switcher;
  if (end.job.state !== "done") throw new Error(`the print ended ${end.job.state}: ${end.job.reason}`);
  await p.ended;
  const segments: Segment[] = [];
  switches.forEach((s, i) => {
    const to = switches[i + 1]?.ms ?? Infinity;
    const inside = p.progress.filter((x) => x.ms >= s.ms + SETTLE_MS && x.ms <= to);
    if (inside.length < 3) return; // before the first line or after the last
    const a = inside[0]!;
    const b = inside.at(-1)!;
    segments.push({ loaded: s.loaded, rate: ((b.lines - a.lines) * 1000) / (b.ms - a.ms) });
  });
  return segments;
}

/** Each loaded segment's drop against the mean of the unloaded ones on either side, in %. */
function pairedDrops(segments: Segment[]): number[] {
  const drops: number[] = [];
  for (let i = 1; i + 1 < segments.length; i++) {
    const [before, loaded, after] = [segments[i - 1]!, segments[i]!, segments[i + 1]!];
    if (loaded.loaded && !before.loaded && !after.loaded) drops.push((1 - loaded.rate / ((before.rate + after.rate) / 2)) * 100);
  }
  return drops;
}

const quartiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 4)]!.toFixed(1)} to ${s[Math.floor((3 * s.length) / 4)]!.toFixed(1)}`;
};

await uploadFile(host, "load.gcode", file, true);
await printUploaded(host, "load.gcode"); // unmeasured: every measured print finds the serial path compiled
const pacing = READ_RATE === undefined ? `${DEFAULT_PRINT_READ_RATE} a second (the default)` : READ_RATE === "0" ? "off (--print-read-rate 0)" : `${READ_RATE} a second`;
console.log(
  `streaming rate of the binary (${commandLines(file).toLocaleString("en")} lines a print, pty, instant-ok peer), the load switched on and off every ${SEGMENT_MS} ms within ${PRINTS} prints; reads paced while printing: ${pacing}`,
);
/** The control server (bench/load-control.ts) on a free port, at the web thread's priority (nice 10). */
async function controlServer() {
  const statusFile = `${dir}/status.json`;
  await Bun.write(statusFile, await (await host.api(`/api/v1/printers/${host.printer}`)).text());
  const port = freePort();
  const proc = Bun.spawn(["nice", "-n", "10", process.execPath, new URL("./load-control.ts", import.meta.url).pathname, String(port), statusFile], { stdout: "pipe", stderr: "inherit" });
  await proc.stdout.getReader().read(); // "ready"
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() };
}

/** PRINTS prints under one kind of load answered at `url`: the drop (median of the pairs) and the figures. */
async function measured(intervalMs: number, url: string) {
  const load = await clients(intervalMs, url);
  const segments: Segment[] = [];
  const drops: number[] = [];
  for (let i = 0; i < PRINTS; i++) {
    const s = await alternatingPrint(load);
    segments.push(...s);
    drops.push(...pairedDrops(s));
  }
  const figures = await load.stop();
  const alone = median(segments.filter((s) => !s.loaded).map((s) => s.rate));
  const loaded = median(segments.filter((s) => s.loaded).map((s) => s.rate));
  const drop = median(drops);
  return {
    drop,
    text: `${alone.toFixed(0)} lines/s without, ${loaded.toFixed(0)} with the load (medians of segments); drop ${drop.toFixed(1)} % (median of ${drops.length} pairs; quartiles ${quartiles(drops)}); ${figures.pollsPerSecond.toFixed(0)} polls/s answered, ${figures.sseKBPerSecond.toFixed(0)} KB/s of SSE while on`,
  };
}

const control = await controlServer();
const results: number[] = [];
for (const [label, intervalMs] of [
  ["50 clients polling every 500 ms + 20 SSE listeners", 500],
  ["50 clients polling back to back + 20 SSE listeners", 0],
] as const) {
  const ours = await measured(intervalMs, host.url);
  const theirs = await measured(intervalMs, control.url);
  results.push(ours.drop);
  console.log(`  ${label}`);
  console.log(`    answered by Layerline:                 ${ours.text}`);
  console.log(`    answered by a bare server (control):   ${theirs.text}`);
}
control.stop();
console.log(
  `  → goal (< 5 % lower): ${results[0]! < 5 ? "met" : "NOT met"} at a browser's pace, ${results[1]! < 5 ? "met" : "NOT met"} flat out (${navigator.hardwareConcurrency} CPU cores shared by the host, socat, the peer and the clients at nice ${CLIENTS_NICE})`,
);
await host.stop();
await p.stop();
await pty.close();
