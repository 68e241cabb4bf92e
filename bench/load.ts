/**
 * Load isolation (issue #3): the streaming rate of the built binary (3 × 15,712 lines through a
 * socat pty to an instant-ok peer, timed by the peer; the median of 3 prints) alone, and while 50 HTTP clients poll the
 * printer's state and 20 SSE clients listen (10 on the JSON events, 10 on the dashboard's HTML
 * fragments). Polling is measured at two paces: every 500 ms per client (a browser tab's pace)
 * and back to back (each client asks again the moment it has its answer). The load runs in this
 * process, on the same machine, and stops by itself. Goal: the rate drops by less than 5 %.
 *
 *   bun bench/load.ts   (builds dist/ if needed; needs socat and cc)
 */
import { benchFile, binary, buildPeer, median, printFile, ptyPair, scratch, startHost, startPeer } from "./serial-bench.ts";

const POLLERS = 50;
const LISTENERS = 20;
const dir = scratch();
const bin = await binary();
const peer = buildPeer(dir);
const file = await benchFile(3);
const RUNS = 3;

const pty = await ptyPair();
let p = startPeer(peer, pty.device);
const host = await startHost(bin, dir, pty.host);
await host.waitFor(`/api/v1/printers/${host.printer}`, (x: any) => x.state === "operational" && x.firmware !== null);

/** Prints the file RUNS times; the median rate as the peer saw it. */
async function rate(name: string): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) rates.push(await rateOnce(`${name}-${i}`));
  return median(rates);
}

async function rateOnce(name: string): Promise<number> {
  const end = await printFile(host, `${name}.gcode`, file);
  if (end.job.state !== "done") throw new Error(`the print ended ${end.job.state}: ${end.job.reason}`);
  const [s, e] = await Promise.all([p.started, p.ended]);
  // A fresh peer for the next run (its markers fire once).
  await p.stop();
  p = startPeer(peer, pty.device);
  await Bun.sleep(200);
  return (e.lines - s.lines) / ((e.ns - s.ns) / 1e9);
}

/** 50 pollers and 20 SSE listeners until `stop()`; counts what they got. */
function load(intervalMs: number) {
  let running = true;
  let requests = 0;
  let sseBytes = 0;
  const controllers: AbortController[] = [];
  const pollers = Array.from({ length: POLLERS }, async () => {
    while (running) {
      const res = await host.api(`/api/v1/printers/${host.printer}`);
      await res.json();
      requests++;
      if (intervalMs) await Bun.sleep(intervalMs);
    }
  });
  const listeners = Array.from({ length: LISTENERS }, async (_, i) => {
    const ac = new AbortController();
    controllers.push(ac);
    const path = i % 2 === 0 ? "/api/v1/events" : `/ui/events?printer=${host.printer}`;
    try {
      const res = await host.api(path, { signal: ac.signal });
      const reader = res.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        sseBytes += value.length;
      }
    } catch {
      // aborted at the end
    }
  });
  const started = performance.now();
  return {
    async stop() {
      running = false;
      for (const ac of controllers) ac.abort();
      await Promise.all([...pollers, ...listeners]);
      const s = (performance.now() - started) / 1000;
      return { requestsPerSecond: requests / s, sseKBPerSecond: sseBytes / 1024 / s };
    },
  };
}

const alone = await rate("alone");
const paced = load(500);
await Bun.sleep(1000);
const underPacedLoad = await rate("paced");
const pacedFigures = await paced.stop();
const flat = load(0);
await Bun.sleep(1000);
const underFullLoad = await rate("flat-out");
const flatFigures = await flat.stop();
await host.stop();
await p.stop();
await pty.close();

const drop = (x: number) => ((alone - x) / alone) * 100;
console.log(`streaming rate of the binary (47,136 lines, pty, instant-ok peer; median of ${RUNS} prints):`);
console.log(`  alone                                                         ${alone.toFixed(0).padStart(6)} lines/s`);
console.log(
  `  50 clients polling every 500 ms + 20 SSE listeners           ${underPacedLoad.toFixed(0).padStart(6)} lines/s  (${drop(underPacedLoad).toFixed(1)} % lower; ` +
    `${pacedFigures.requestsPerSecond.toFixed(0)} requests/s, ${pacedFigures.sseKBPerSecond.toFixed(0)} KB/s of SSE)`,
);
console.log(
  `  50 clients polling back to back + 20 SSE listeners           ${underFullLoad.toFixed(0).padStart(6)} lines/s  (${drop(underFullLoad).toFixed(1)} % lower; ` +
    `${flatFigures.requestsPerSecond.toFixed(0)} requests/s, ${flatFigures.sseKBPerSecond.toFixed(0)} KB/s of SSE)`,
);
console.log(`  → goal (< 5 % lower): ${drop(underPacedLoad) < 5 ? "met" : "NOT met"} at a browser's pace, ${drop(underFullLoad) < 5 ? "met" : "NOT met"} flat out (${navigator.hardwareConcurrency} CPU cores shared by the host, the clients, socat and the peer)`);
