/**
 * How prints start and end when something races them, on a real host (virtual printer, loopback
 * HTTP and WebSocket, sqlite): a user's disconnect mid-print is a failure that says so (native
 * status and history) while OctoPrint clients get OctoPrint's events (PrintFailed with reason
 * "error"; a cancel is PrintCancelled then PrintFailed with reason "cancelled"); starts at once
 * (a double click) or beside a disconnect start one print or none; pause, resume and cancel asked
 * twice do it once (the second told why); OctoPrint's restart of a paused print.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { layeredGcode } from "../helpers/gcode.ts";
import { jobEnded, readyHost, upload, type TestHost } from "../helpers/host.ts";
import { login } from "../helpers/session.ts";

let host: TestHost;
let at: string;
const SLOW = layeredGcode({ layers: 40, objects: [{ name: "a", x: 20, y: 20 }], size: 20, feedrate: 600 });

beforeAll(async () => {
  // Slow enough to act mid-print.
  const ready = await readyHost({ virtual: { timeScale: 40 } });
  host = ready.host;
  at = `/api/v1/printers/${ready.printer}`;
  expect((await upload(host, "slow.gcode", SLOW)).status).toBe(201);
}, 30_000);
afterAll(() => host?.close());

/** An OctoPrint socket (authenticated by the API key) that keeps the events it gets. */
async function events() {
  const ws = new WebSocket(`${host.url.replace("http", "ws")}/sockjs/websocket?apikey=${host.apiKey}`);
  const got: { type: string; payload: Record<string, unknown> }[] = [];
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    if (m.event) got.push(m.event);
  };
  await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
  const until = async (type: string) => {
    const deadline = Date.now() + 10_000;
    while (!got.some((e) => e.type === type) && Date.now() < deadline) await Bun.sleep(20);
    return got.filter((e) => /^Print(Started|Done|Cancelled|Failed|Paused|Resumed)$/.test(e.type));
  };
  return { ws, until };
}

async function printing() {
  expect((await host.post(`${at}/job`, { file: "slow.gcode" })).status).toBe(200);
  await host.waitFor(at, (p: any) => p.job?.state === "printing" && p.progress?.bytesSent > 0);
}

describe("how a print's end is recorded", () => {
  test("a user's disconnect mid-print: failed, saying the user disconnected; OctoPrint gets PrintFailed with reason error", async () => {
    const socket = await events();
    await printing();
    // Through OctoPrint's API, as a farm manager would.
    expect((await host.post("/api/connection", { command: "disconnect" })).status).toBe(204);
    const closed = await host.waitFor(at, (p: any) => p.state === "closed" && jobEnded(p));
    expect(closed.job).toMatchObject({ state: "failed", reason: "The printer was disconnected by the user during the print." });
    const [entry] = ((await (await host.api(`/api/v1/history?q=slow`)).json()) as any).items;
    expect(entry).toMatchObject({ outcome: "failed", reason: "The printer was disconnected by the user during the print." });
    const printEvents = await socket.until("PrintFailed");
    expect(printEvents.map((e) => [e.type, e.payload.reason])).toEqual([["PrintStarted", undefined], ["PrintFailed", "error"]]);
    expect(printEvents[1]!.payload).toMatchObject({ name: "slow.gcode", path: "slow.gcode", origin: "local", time: expect.any(Number) });
    // OctoPrint's own shapes while closed: the job offline, the printer 409.
    expect(((await (await host.api("/api/job")).json()) as any).state).toBe("Offline");
    expect((await host.api("/api/printer")).status).toBe(409);
    socket.ws.close();
    expect((await host.post(`${at}/connect`)).status).toBe(200);
    await host.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null);
  }, 60_000);

  test("a cancel: PrintCancelled, then PrintFailed with reason cancelled (as OctoPrint fires them); recorded as cancelled", async () => {
    const socket = await events();
    await printing();
    expect((await host.post("/api/job", { command: "cancel" })).status).toBe(204);
    const ended = await host.waitFor(at, jobEnded);
    expect(ended.job).toMatchObject({ state: "cancelled" });
    const printEvents = await socket.until("PrintFailed");
    expect(printEvents.map((e) => [e.type, e.payload.reason])).toEqual([["PrintStarted", undefined], ["PrintCancelled", undefined], ["PrintFailed", "cancelled"]]);
    socket.ws.close();
  }, 60_000);
});

test("the entry of a print still running is not deleted (its end and a resume are recorded there); once it ended it may be", async () => {
  await printing();
  const [entry] = ((await (await host.api("/api/v1/history?outcome=printing")).json()) as any).items;
  const refused = await host.api(`/api/v1/history/${entry.id}`, { method: "DELETE" });
  expect(refused.status).toBe(409);
  expect(await refused.json()).toMatchObject({ error: { code: "print_running", message: expect.stringContaining("still running") } });
  // The page offers no Delete for it, and the form's post is refused with the reason.
  const admin = await login(host);
  const page = await (await host.anonymous("/history", { headers: { cookie: admin.cookie } })).text();
  expect(page).toContain(`data-entry="${entry.id}"`);
  expect(page).not.toContain(`/ui/history/${entry.id}/delete`);
  // Its print time and filament are known once it ends: not "0s" and "0.00 m" meanwhile.
  const row = page.slice(page.indexOf(`data-entry="${entry.id}"`), page.indexOf("</tr>", page.indexOf(`data-entry="${entry.id}"`)));
  expect(row).toContain('title="Known once the print has ended">—</td>');
  expect(row).not.toContain("0s");
  const ui = await host.anonymous(`/ui/history/${entry.id}/delete`, { method: "POST", headers: { cookie: admin.cookie, "x-csrf-token": admin.csrf, "hx-request": "true" } });
  expect(await ui.text()).toContain("still running");
  expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
  await host.waitFor(at, jobEnded);
  expect(((await (await host.api(`/api/v1/history/${entry.id}`)).json()) as any).outcome).toBe("cancelled");
  expect((await host.api(`/api/v1/history/${entry.id}`, { method: "DELETE" })).status).toBe(204);
}, 60_000);

describe("starts that race", () => {
  const openRows = async () => ((await (await host.api("/api/v1/history?outcome=printing")).json()) as any).items;

  test("a double click on Start (starts at once) starts one print; the others are refused as busy", async () => {
    // A few at once, so they reach the printer while the first one still opens its file.
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => host.post(`${at}/job`, { file: "slow.gcode" })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    const refused = (await answers.find((r) => r.status === 409)!.json()) as any;
    expect(refused.error.code).toBe("busy");
    const started = await host.waitFor(at, (p: any) => p.job?.state === "printing");
    const open = await openRows();
    expect(open.map((e: any) => e.jobId)).toEqual([started.job.id]);
    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    await host.waitFor(at, jobEnded);
  }, 60_000);

  test("a start and a disconnect at once: never a print running on a closed printer, nor a history row left open", async () => {
    for (let i = 0; i < 3; i++) {
      const [start] = await Promise.all([host.post(`${at}/job`, { file: "slow.gcode" }), Bun.sleep(i).then(() => host.post(`${at}/disconnect`))]);
      expect([200, 409]).toContain(start.status);
      const closed = await host.waitFor(at, (p: any) => p.state === "closed");
      expect(closed.job === null || jobEnded(closed)).toBe(true);
      expect(await openRows()).toEqual([]);
      expect((await host.post(`${at}/connect`)).status).toBe(200);
      await host.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null);
    }
  }, 90_000);
});

describe("controls asked twice, or at the wrong moment", () => {
  test("pause and resume asked twice (a double click, two clients) do it once, the second told why; cancel twice is one cancel", async () => {
    await printing();
    const pauses = await Promise.all([host.post(`${at}/job/pause`), host.post(`${at}/job/pause`)]);
    expect(pauses.map((r) => r.status)).toEqual([200, 409]);
    expect(((await pauses[1]!.json()) as any).error).toMatchObject({ code: "not_printing", message: "The print is already pausing." });
    await host.waitFor(at, (p: any) => p.job?.state === "paused");
    const again = (await (await host.post(`${at}/job/pause`)).json()) as any;
    expect(again.error.message).toBe("The print is already paused.");
    const resumes = await Promise.all([host.post(`${at}/job/resume`), host.post(`${at}/job/resume`)]);
    expect(resumes.map((r) => r.status)).toEqual([200, 409]);
    expect(((await resumes[1]!.json()) as any).error.message).toBe("The print is already being resumed.");
    await host.waitFor(at, (p: any) => p.job?.state === "printing");
    const cancels = await Promise.all([host.post(`${at}/job/cancel`), host.post(`${at}/job/cancel`)]);
    expect(cancels.map((r) => r.status)).toEqual([200, 200]);
    const ended = await host.waitFor(at, jobEnded);
    expect(ended.job.state).toBe("cancelled");
    const rows = ((await (await host.api(`/api/v1/history?limit=1`)).json()) as any).items;
    expect(rows[0]).toMatchObject({ jobId: ended.job.id, outcome: "cancelled" });
  }, 60_000);

  test("OctoPrint's restart of a paused print starts it again from the beginning (it used to cancel it and refuse)", async () => {
    await printing();
    const first = ((await (await host.api(at)).json()) as any).job.id;
    expect((await host.post("/api/job", { command: "pause", action: "pause" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Paused");
    expect((await host.post("/api/job", { command: "restart" })).status).toBe(204);
    const again = await host.waitFor(at, (p: any) => p.job?.state === "printing" && p.job.id !== first);
    expect(again.job.file).toBe("slow.gcode");
    const [now, before] = ((await (await host.api(`/api/v1/history?limit=2`)).json()) as any).items;
    expect(now).toMatchObject({ jobId: again.job.id, outcome: "printing" });
    expect(before).toMatchObject({ jobId: first, outcome: "cancelled", reason: "Restarted from the beginning." });
    expect((await host.post(`${at}/job/cancel`)).status).toBe(200);
    await host.waitFor(at, jobEnded);
  }, 60_000);
});
