/**
 * The HTTP clients of bench/load.ts, in a process of their own: 50 pollers of a printer's state
 * (every INTERVAL ms, or back to back with 0) and 20 SSE listeners (10 on the JSON events, 10 on
 * the dashboard's HTML fragments). They start switched off; SIGUSR2 switches them on (the pollers
 * poll, the listeners connect), SIGUSR1 off again (the polls under way are aborted — a paced host
 * would otherwise go on answering them — and the listeners disconnect), so the benchmark can
 * alternate load and no load within one print. On SIGTERM: one JSON line with the polls answered
 * a second while on, and the SSE bytes.
 *
 *   bun bench/load-clients.ts URL API_KEY PRINTER INTERVAL_MS
 */
const [url, key, printer, interval] = process.argv.slice(2) as [string, string, string, string];
const intervalMs = Number(interval);
const POLLERS = 50;
const LISTENERS = 20;

const api = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { "x-api-key": key } });
let on = false;
let onSince = 0;
let onMs = 0;
let polls = 0;
let failed = 0;
let sseBytes = 0;
const waiting: (() => void)[] = [];
const listeners: AbortController[] = [];

const switchedOn = () => (on ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve)));

/** The polls under way: switching off aborts them, so none is answered while the load is off. */
const inFlight = new Set<AbortController>();

async function poll(): Promise<never> {
  for (;;) {
    await switchedOn();
    const ac = new AbortController();
    inFlight.add(ac);
    try {
      const res = await api(`/api/v1/printers/${printer}`, { signal: ac.signal });
      await res.json();
      if (res.status === 200) polls++;
      else failed++;
    } catch (e) {
      if ((e as Error).name !== "AbortError") failed++;
    } finally {
      inFlight.delete(ac);
    }
    if (intervalMs) await Bun.sleep(intervalMs);
  }
}

function listen(i: number): void {
  const ac = new AbortController();
  listeners.push(ac);
  const path = i % 2 === 0 ? "/api/v1/events" : `/ui/events?printer=${printer}`;
  void (async () => {
    try {
      const reader = (await api(path, { signal: ac.signal })).body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        sseBytes += value.length;
      }
    } catch {
      // switched off
    }
  })();
}

for (let i = 0; i < POLLERS; i++) void poll();

process.on("SIGUSR2", () => {
  if (on) return;
  on = true;
  onSince = performance.now();
  for (let i = 0; i < LISTENERS; i++) listen(i);
  for (const resolve of waiting.splice(0)) resolve();
});
process.on("SIGUSR1", () => {
  if (!on) return;
  on = false;
  onMs += performance.now() - onSince;
  for (const ac of listeners.splice(0)) ac.abort();
  for (const ac of inFlight) ac.abort();
});
process.on("SIGTERM", () => {
  if (on) onMs += performance.now() - onSince;
  const s = onMs / 1000;
  console.log(JSON.stringify({ pollsPerSecond: s ? polls / s : 0, sseKBPerSecond: s ? sseBytes / 1024 / s : 0, failed }));
  process.exit(0);
});
console.log("ready");
setInterval(() => {}, 60_000); // stays up until SIGTERM
