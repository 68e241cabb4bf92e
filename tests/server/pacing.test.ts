/**
 * Reads paced while a printer prints: the pure pacer, and a real host (virtual printer, loopback
 * HTTP) whose reads wait their turn during a print — none refused — while commands act at once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { paceDelay, readPacing, type PaceState } from "../../src/server/pacing.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, readyHost, upload, type TestHost } from "../helpers/host.ts";

describe("paceDelay", () => {
  test("a burst goes through at once, then one request per interval", () => {
    const s: PaceState = { due: 0 };
    // interval 10 ms, burst 2: three at t=0 pass, the next ones wait 10, 20, 30 ms
    expect([0, 0, 0, 0, 0, 0].map((t) => paceDelay(s, t, 10, 2))).toEqual([0, 0, 0, 10, 20, 30]);
  });

  test("waiting requests keep their order; a quiet spell gives the burst back", () => {
    const s: PaceState = { due: 0 };
    for (let i = 0; i < 10; i++) paceDelay(s, 1000, 10, 2);
    expect(paceDelay(s, 1000, 10, 2)).toBe(80); // the 11th at t=1000: slot 1100 less the burst
    // After the queue drained and a second passed, a burst passes again without waiting.
    expect([2200, 2200, 2200].map((t) => paceDelay(s, t, 10, 2))).toEqual([0, 0, 0]);
  });

  test("spaced requests never wait", () => {
    const s: PaceState = { due: 0 };
    expect([0, 10, 20, 35, 100].map((t) => paceDelay(s, t, 10, 0))).toEqual([0, 0, 0, 0, 0]);
  });
});

test("a read whose client gave up while it waited its turn is not answered (no work for nobody)", async () => {
  let handled = 0;
  const app = new Elysia()
    .use(readPacing({ rate: 10, printing: () => true }))
    .get("/", () => {
      handled++;
      return "x";
    })
    .listen({ port: 0, hostname: "127.0.0.1" });
  try {
    const url = `http://127.0.0.1:${app.server!.port}/`;
    const gaveUp = Array.from({ length: 5 }, () => new AbortController());
    // Burst 1 at 10 a second: the first is answered at once, the other four wait 100–400 ms.
    const reads = gaveUp.map((ac) => fetch(url, { signal: ac.signal }).then((r) => r.status, (e: Error) => e.name));
    await Bun.sleep(50);
    for (const ac of gaveUp.slice(2)) ac.abort();
    expect(await Promise.all(reads)).toEqual([200, 200, "AbortError", "AbortError", "AbortError"]);
    await Bun.sleep(500); // past the slots of the three that gave up
    expect(handled).toBe(2);
  } finally {
    await app.stop(true);
  }
});

describe("a host pacing reads during a print (50 reads a second)", () => {
  let host: TestHost;
  let at: string;
  beforeAll(async () => {
    const ready = await readyHost({ virtual: { timeScale: 20 }, printReadRate: 50 });
    host = ready.host;
    at = `/api/v1/printers/${ready.printer}`;
    const gcode = layeredGcode({ layers: 40, objects: [{ name: "a", x: 20, y: 20 }], size: 30, feedrate: 600 });
    expect((await upload(host, "slow.gcode", gcode)).status).toBe(201);
  }, 30_000);
  afterAll(() => host?.close());

  const burstOfReads = async (n: number) => {
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: n }, () => host.api(at).then((r) => r.status)));
    return { statuses, ms: performance.now() - started };
  };

  test("idle: 60 reads at once are answered without waiting", async () => {
    const { statuses, ms } = await burstOfReads(60);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(ms).toBeLessThan(900); // paced, the 55 above the burst would take 1.1 s
  });

  test("printing: 60 reads at once all get their answer, the ones above the burst a slot each; a command is not delayed", async () => {
    expect((await host.post(`${at}/job`, { file: "slow.gcode" })).status).toBe(200);
    await host.waitFor(at, (p: any) => p.job?.state === "printing", 10_000);
    const reads = burstOfReads(60);
    await Bun.sleep(50);
    const pausedAt = performance.now();
    const pause = await host.post(`${at}/job/pause`);
    const pauseMs = performance.now() - pausedAt;
    const { statuses, ms } = await reads;
    expect(statuses.every((s) => s === 200)).toBe(true);
    // 5 in the burst, then one every 20 ms: the last of 60 about 1.1 s after the first
    expect(ms).toBeGreaterThan(900);
    expect(pause.status).toBe(200);
    expect(pauseMs).toBeLessThan(500); // not behind the 55 waiting reads
    await host.waitFor(at, (p: any) => p.job?.state === "paused", 10_000);
    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    await host.waitFor(at, jobEnded, 10_000);
  }, 30_000);
});
