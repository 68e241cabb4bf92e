/**
 * The push channels under load: a host (its own process, as in production) prints a real file on
 * the virtual printer twice — alone, then with 100 OctoPrint WebSocket clients (authenticated,
 * throttle 1, so each gets `current` every 500 ms) and 20 native SSE clients connected — and
 * prints the print rate (lines/s) of both runs side by side, with what the clients received.
 *
 *   bun bench/push.ts [path/to/file.gcode]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const FILE = Bun.argv[2] ?? "/work/shared/data/gcode/slic3r13_reprap_bunny60_0.20_pla_m82.gcode";
const WS_CLIENTS = 100;
const SSE_CLIENTS = 20;

const dir = mkdtempSync(join(tmpdir(), "layerline-bench-push-"));
const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
const port = probe.port!;
probe.stop(true);
const url = `http://127.0.0.1:${port}`;
// Fast moves and heating (1000× real time), so the rate is mostly the host's.
const proc = Bun.spawn(["bun", join(ROOT, "src/main.ts"), "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(dir, "data"), "--virtual-time-scale", "1000"], {
  stdout: "ignore",
  stderr: "inherit",
});

async function main() {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/api/v1/version`)).ok) break;
    } catch {
      // starting
    }
    if (i > 300) throw new Error("the host did not start");
    await Bun.sleep(50);
  }
  const setup = await fetch(`${url}/api/v1/setup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password: "bench-password" }) });
  const { apiKey } = await setup.json();
  const headers = { "x-api-key": apiKey };
  const id = (await (await fetch(`${url}/api/v1/printers`, { headers })).json()).printers[0].id;
  const printerUrl = `${url}/api/v1/printers/${id}`;
  const until = async (check: (p: any) => boolean, ms = 600_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const p = await (await fetch(printerUrl, { headers })).json();
      if (check(p)) return p;
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(p).slice(0, 200)}`);
      await Bun.sleep(100);
    }
  };
  await until((p) => p.state === "operational");
  const form = new FormData();
  form.append("file", Bun.file(FILE), "bench.gcode");
  if ((await fetch(`${url}/api/v1/files`, { method: "POST", headers, body: form })).status !== 201) throw new Error("upload failed");

  const print = async () => {
    const start = await fetch(`${printerUrl}/job`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: '{"file":"bench.gcode"}' });
    if (!start.ok) throw new Error(`start failed: ${await start.text()}`);
    const done = await until((p) => p.job?.state === "done" || p.job?.state === "failed");
    if (done.job.state !== "done") throw new Error(`print failed: ${done.job.reason}`);
    const seconds = (done.job.endedAt - done.job.startedAt) / 1000;
    return { lines: done.progress.linesSent, seconds, rate: done.progress.linesSent / seconds };
  };

  await print(); // warm-up: the first print also pays for caches and JIT
  const alone = await print();

  // The load: 100 authenticated OctoPrint sockets and 20 SSE streams.
  let wsMessages = 0;
  let currents = 0;
  let sseBytes = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < WS_CLIENTS; i++) {
    const ws = new WebSocket(`${url.replace("http", "ws")}/sockjs/websocket?apikey=${apiKey}`);
    ws.onmessage = (e) => {
      wsMessages++;
      if (String(e.data).startsWith('{"current"')) currents++;
    };
    ws.onopen = () => ws.send(JSON.stringify({ throttle: 1 }));
    sockets.push(ws);
  }
  const streams: AbortController[] = [];
  for (let i = 0; i < SSE_CLIENTS; i++) {
    const abort = new AbortController();
    streams.push(abort);
    void fetch(`${url}/api/v1/events`, { headers, signal: abort.signal })
      .then(async (res) => {
        const reader = res.body!.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) sseBytes += r.value.length;
      })
      .catch(() => undefined);
  }
  await Bun.sleep(2000); // everyone connected and receiving
  const before = { wsMessages, currents, sseBytes, at: Date.now() };
  const loaded = await print();
  const span = (Date.now() - before.at) / 1000;
  for (const ws of sockets) ws.close();
  for (const s of streams) s.abort();

  const f = (n: number) => Math.round(n).toLocaleString("en");
  console.log(`file: ${FILE.split("/").pop()} (${f(alone.lines)} lines), virtual printer, host in its own process`);
  console.log(`print rate alone:                         ${f(alone.rate)} lines/s (${alone.seconds.toFixed(2)} s)`);
  console.log(`print rate with ${WS_CLIENTS} WebSocket + ${SSE_CLIENTS} SSE clients: ${f(loaded.rate)} lines/s (${loaded.seconds.toFixed(2)} s) = ${((loaded.rate / alone.rate) * 100).toFixed(0)} % of alone`);
  console.log(
    `during the loaded print: ${f((wsMessages - before.wsMessages) / span)} WebSocket messages/s (${((currents - before.currents) / span / WS_CLIENTS).toFixed(1)} current/s per client), ${f((sseBytes - before.sseBytes) / span / 1024)} KiB/s over SSE`,
  );
}

try {
  await main();
} finally {
  proc.kill("SIGINT");
  await proc.exited;
  rmSync(dir, { recursive: true, force: true });
}
