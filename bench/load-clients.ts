/**
 * The HTTP clients of bench/load.ts, in a process of their own: 50 pollers of a printer's state
 * (every INTERVAL ms, or back to back with 0) and 20 SSE listeners (10 on the JSON events, 10 on
 * the dashboard's HTML fragments), until SIGTERM; then one JSON line with what they got. Every
 * 20 ms a line "t <unix ms> <answered polls so far>", so the benchmark can count the polls answered
 * while the print streamed.
 *
 *   bun bench/load-clients.ts URL API_KEY PRINTER INTERVAL_MS
 */
const [url, key, printer, interval] = process.argv.slice(2) as [string, string, string, string];
const intervalMs = Number(interval);
const POLLERS = 50;
const LISTENERS = 20;

const api = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { "x-api-key": key } });
let running = true;
let requests = 0;
let failed = 0;
let sseBytes = 0;
const controllers: AbortController[] = [];

const pollers = Array.from({ length: POLLERS }, async () => {
  while (running) {
    const res = await api(`/api/v1/printers/${printer}`);
    await res.json();
    if (res.status === 200) requests++;
    else failed++;
    if (intervalMs) await Bun.sleep(intervalMs);
  }
});
const listeners = Array.from({ length: LISTENERS }, async (_, i) => {
  const ac = new AbortController();
  controllers.push(ac);
  const path = i % 2 === 0 ? "/api/v1/events" : `/ui/events?printer=${printer}`;
  try {
    const res = await api(path, { signal: ac.signal });
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
const ticker = setInterval(() => console.log(`t ${Date.now()} ${requests}`), 20);

process.on("SIGTERM", async () => {
  running = false;
  clearInterval(ticker);
  for (const ac of controllers) ac.abort();
  await Promise.all([...pollers, ...listeners]);
  const s = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ requestsPerSecond: requests / s, sseKBPerSecond: sseBytes / 1024 / s, failed }));
  process.exit(0);
});
