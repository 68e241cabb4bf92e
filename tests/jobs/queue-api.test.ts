/**
 * The print queue and the history over real HTTP on a real host with the virtual printer:
 * adding, reordering, removing; auto vs confirm; failures hold the queue; deleted files are
 * skipped; everything survives a restart; hostile input; permissions; history filters, CSV,
 * statistics and OctoPrint's fields fed by history.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RESTART_NOTICE } from "../../src/jobs/queue.ts";
import { fixture, shapeDiff } from "../helpers/shape.ts";
import { ADMIN, readyHost, startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { jobEvent } from "./events.ts";

const SMALL = "G28\nG1 X10 Y10 F3000\nG1 X20 Y20\nG1 X30 Y10\n";
/** Long enough at real time to be cancelled, or cut short by a restart. */
const LONG = "G28\nG4 S30\nG1 X10 Y10 F3000\n";

const patch = (host: TestHost, path: string, body: unknown) => host.api(path, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const del = (host: TestHost, path: string) => host.api(path, { method: "DELETE" });

describe("the queue on an instant virtual printer", () => {
  let host: TestHost;
  let printer: string;
  let q: string;
  const queue = async () => (await host.api(q)).json();
  const add = (file: string) => host.post(q, { file });
  const idle = () => host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");

  beforeAll(async () => {
    ({ host, printer } = await readyHost());
    q = `/api/v1/printers/${printer}/queue`;
    for (const name of ["a.gcode", "b.gcode", "c.gcode"]) expect((await upload(host, name, SMALL)).status).toBe(201);
  }, 30_000);
  afterAll(() => host.close());

  test("add, list, move, remove, clear", async () => {
    const empty = await queue();
    expect(empty).toMatchObject({ printer, mode: "confirm", state: "idle", items: [], notice: null });
    const res = await add("a.gcode");
    expect(res.status).toBe(201);
    const { item } = await res.json();
    expect(item).toMatchObject({ file: "a.gcode", addedBy: ADMIN.username });
    expect(item.sha256).toMatch(/^[0-9a-f]{64}$/);
    await add("b.gcode");
    await add("c.gcode");
    const ids = (await queue()).items.map((i: any) => i.id);
    const moved = await host.post(`${q}/${ids[2]}/move`, { to: 0 });
    expect(moved.status).toBe(200);
    expect((await moved.json()).items.map((i: any) => i.file)).toEqual(["c.gcode", "a.gcode", "b.gcode"]);
    // Past the end means last.
    expect((await (await host.post(`${q}/${ids[2]}/move`, { to: 99 })).json()).items.map((i: any) => i.file)).toEqual(["a.gcode", "b.gcode", "c.gcode"]);
    const removed = await del(host, `${q}/${ids[1]}`);
    expect((await removed.json()).items.map((i: any) => i.file)).toEqual(["a.gcode", "c.gcode"]);
    const cleared = await del(host, q);
    expect((await cleared.json()).items).toEqual([]);
  });

  test("hostile input: unknown printer, file, item; folders, non-G-code, bad bodies", async () => {
    const cases: [Promise<Response>, number, string][] = [
      [host.post("/api/v1/printers/nope/queue", { file: "a.gcode" }), 404, "printer_not_found"],
      [host.api("/api/v1/printers/nope/queue"), 404, "printer_not_found"],
      [add("missing.gcode"), 404, "file_not_found"],
      [add("../../etc/passwd"), 400, "invalid_path"],
      [add(""), 400, "invalid_request"],
      [host.post(q, { file: 42 }), 400, "invalid_request"],
      [host.post(q, {}), 400, "invalid_request"],
      [host.api(q, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" }), 400, "invalid_body"],
      [patch(host, q, { mode: "sometimes" }), 400, "invalid_request"],
      [host.post(`${q}/nope/move`, { to: 0 }), 404, "not_found"],
      [host.post(`${q}/nope/move`, { to: -1 }), 400, "invalid_request"],
      [host.post(`${q}/nope/move`, { to: "first" }), 400, "invalid_request"],
      [del(host, `${q}/nope`), 404, "not_found"],
      [host.post(`${q}/start`), 409, "queue_empty"],
      [host.post(`${q}/confirm`), 409, "not_waiting"],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      const body = await res.json();
      expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
      expect(body.error.message.length).toBeGreaterThan(5);
    }
    expect((await host.post(q, {})).json()).resolves.toMatchObject({ error: { message: expect.stringContaining("file") } });
    // A folder, and a file copied in by hand that is not G-code.
    expect((await host.post("/api/v1/files", { folder: "parts" })).status).toBe(201);
    expect((await add("parts")).status).toBe(400);
    writeFileSync(join(host.dataDir, "files", "notes.txt"), "hello");
    const txt = await add("notes.txt");
    expect(txt.status).toBe(400);
    expect((await txt.json()).error.code).toBe("not_printable");
  });

  test("auto: the next print starts as soon as one ends well; the queue rests when empty", async () => {
    expect((await patch(host, q, { mode: "auto" })).status).toBe(200);
    await add("a.gcode");
    await add("b.gcode");
    const started = await host.post(`${q}/start`);
    expect(started.status).toBe(200);
    expect(await started.json()).toMatchObject({ state: "printing", current: "a.gcode", items: [{ file: "b.gcode" }] });
    const done = await host.waitFor(q, (v: any) => v.state === "idle" && v.items.length === 0);
    expect(done).toMatchObject({ current: "b.gcode", lastOutcome: "done", notice: { level: "info" } });
    await idle();
  });

  test("confirm: after each print the queue waits until the bed is confirmed clear", async () => {
    await patch(host, q, { mode: "confirm" });
    await add("a.gcode");
    await add("b.gcode");
    expect((await host.post(`${q}/start`)).status).toBe(200);
    const waiting = await host.waitFor(q, (v: any) => v.state === "awaiting-confirmation");
    expect(waiting).toMatchObject({ current: "a.gcode", lastOutcome: "done", items: [{ file: "b.gcode" }] });
    await idle();
    // Start is refused while it waits: only the confirmation goes on.
    const refused = await host.post(`${q}/start`);
    expect(refused.status).toBe(409);
    expect((await refused.json()).error.code).toBe("awaiting_confirmation");
    expect((await host.post(`${q}/confirm`)).status).toBe(200);
    const again = await host.waitFor(q, (v: any) => v.state === "awaiting-confirmation" && v.items.length === 0);
    expect(again.current).toBe("b.gcode");
    await idle();
    // Nothing left: confirming lets the queue rest.
    expect(await (await host.post(`${q}/confirm`)).json()).toMatchObject({ state: "idle", items: [] });
  });

  test("a queued file deleted meanwhile is skipped with a notice", async () => {
    await patch(host, q, { mode: "auto" });
    await upload(host, "gone.gcode", SMALL);
    await add("gone.gcode");
    await add("c.gcode");
    expect((await del(host, "/api/v1/files/gone.gcode")).status).toBe(204);
    const started = await host.post(`${q}/start`);
    expect(started.status).toBe(200);
    const view = await started.json();
    expect(view).toMatchObject({ current: "c.gcode", items: [], notice: { level: "warning", message: expect.stringContaining("gone.gcode") } });
    await host.waitFor(q, (v: any) => v.state === "idle");
    await idle();
  });

  test("a queued file moved or renamed meanwhile (or its folder) is followed; a deleted one is shown missing", async () => {
    await patch(host, q, { mode: "auto" });
    // The same content as a.gcode: a deleted file is not replaced by a copy of it.
    await upload(host, "to-delete.gcode", SMALL);
    await upload(host, "to-move.gcode", SMALL);
    await upload(host, "part.gcode", SMALL, "old");
    await add("to-delete.gcode");
    await add("to-move.gcode");
    await add("old/part.gcode");
    const move = (path: string, body: unknown) => host.post(`/api/v1/files/${path}`, body);
    expect((await move("to-move.gcode", { command: "rename", name: "renamed.gcode" })).status).toBe(200);
    expect((await move("renamed.gcode", { command: "move", destination: "plates/renamed.gcode" })).status).toBe(200);
    expect((await move("old", { command: "move", destination: "new" })).status).toBe(200);
    expect((await del(host, "/api/v1/files/to-delete.gcode")).status).toBe(204);
    expect((await queue()).items).toMatchObject([
      { file: "to-delete.gcode", missing: true },
      { file: "plates/renamed.gcode", missing: false },
      { file: "new/part.gcode", missing: false },
    ]);
    const page = await (await host.api(`/queue?printer=${printer}`)).text();
    expect(page).toContain("missing — will be skipped");
    const started = await host.post(`${q}/start`);
    expect(started.status).toBe(200);
    expect(await started.json()).toMatchObject({ current: "plates/renamed.gcode", notice: { level: "warning", message: expect.stringContaining("to-delete.gcode") } });
    await host.waitFor(q, (v: any) => v.state === "idle");
    const last = (await (await host.api(`/api/v1/history?printer=${printer}&limit=2`)).json()).items;
    expect(last).toMatchObject([{ file: "new/part.gcode", outcome: "done" }, { file: "plates/renamed.gcode", outcome: "done" }]);
    await idle();
  });

  test("queue changes are pushed on the native event stream, each printer's to its own listeners", async () => {
    expect((await host.post("/api/v1/printers", { name: "Other", transport: "virtual", autoconnect: false })).status).toBe(201);
    const reader = (await host.api(`/api/v1/events?printer=${printer}`)).body!.getReader();
    await host.post("/api/v1/printers/other/queue", { file: "a.gcode" });
    await add("b.gcode");
    let text = "";
    const deadline = Date.now() + 5000;
    while (!text.includes("event: queue") && Date.now() < deadline) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!chunk || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    await reader.cancel();
    const queues = [...text.matchAll(/event: queue\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!));
    expect(queues).toMatchObject([{ printer, items: [{ file: "b.gcode" }] }]);
    await del(host, q);
    expect((await host.api("/api/v1/printers/other", { method: "DELETE" })).status).toBe(204);
  }, 15_000);

  test("a start the printer refuses (it is offline) leaves the queue as it was, and says why", async () => {
    expect((await host.post("/api/v1/printers", { name: "Offline", transport: "virtual", autoconnect: false })).status).toBe(201);
    const oq = "/api/v1/printers/offline/queue";
    await host.post(oq, { file: "a.gcode" });
    const refused = await host.post(`${oq}/start`);
    expect(refused.status).toBe(409);
    expect((await refused.json()).error).toMatchObject({ code: "not_operational", message: "The printer is not connected." });
    expect(await (await host.api(oq)).json()).toMatchObject({ state: "idle", current: null, notice: null, items: [{ file: "a.gcode" }] });
    expect((await host.api("/api/v1/printers/offline", { method: "DELETE" })).status).toBe(204);
  });

  test("prints not started by the queue do not move it", async () => {
    await add("a.gcode");
    expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "b.gcode" })).status).toBe(200);
    await idle();
    await Bun.sleep(200);
    expect(await queue()).toMatchObject({ state: "idle", items: [{ file: "a.gcode" }] });
    await del(host, q);
  });
});

describe("failures, restarts and permissions (real-time virtual printer)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "layerline-queue-"));
  let host: TestHost;
  let printer: string;
  let q: string;

  beforeAll(async () => {
    ({ host, printer } = await readyHost({ dataDir, virtual: { timeScale: 1 } }));
    q = `/api/v1/printers/${printer}/queue`;
    await upload(host, "long.gcode", LONG);
    await upload(host, "small.gcode", SMALL);
  }, 30_000);
  afterAll(async () => {
    await host.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a cancelled print holds the queue, even in auto mode", async () => {
    await patch(host, q, { mode: "auto" });
    await host.post(q, { file: "long.gcode" });
    await host.post(q, { file: "small.gcode" });
    expect((await host.post(`${q}/start`)).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "printing");
    expect((await host.post(`/api/v1/printers/${printer}/job/cancel`)).status).toBe(200);
    const held = await host.waitFor(q, (v: any) => v.state === "awaiting-confirmation");
    expect(held).toMatchObject({ lastOutcome: "cancelled", current: "long.gcode", items: [{ file: "small.gcode" }], notice: { level: "warning", message: expect.stringContaining("cancelled") } });
  }, 30_000);

  test("items, mode and the waiting state survive a restart; a print cut short by one waits for a person", async () => {
    const before = await (await host.api(q)).json();
    await host.close();
    host = await startTestHost({ dataDir, virtual: { timeScale: 1 } });
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
    const after = await (await host.api(q)).json();
    expect(after).toEqual(before);
    // Go on, and stop the host while the queue's print runs.
    await host.post(q, { file: "long.gcode" });
    await host.post(`${q}/${after.items[0].id}/move`, { to: 1 });
    expect((await host.post(`${q}/confirm`)).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "printing");
    expect((await (await host.api(q)).json()).state).toBe("printing");
    await host.close();
    host = await startTestHost({ dataDir, virtual: { timeScale: 1 } });
    const recovered = await (await host.api(q)).json();
    expect(recovered).toMatchObject({ mode: "auto", state: "awaiting-confirmation", current: "long.gcode", items: [{ file: "small.gcode" }], notice: { level: "warning", message: RESTART_NOTICE } });
  }, 60_000);

  test("a read-only key sees the queue and the history but changes neither; deleting history is admin's", async () => {
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const viewer = { "x-api-key": host.accounts.createKey(admin, { name: "viewer", scope: "read-only" }).key, "content-type": "application/json" };
    const operator = { "x-api-key": host.accounts.createKey(admin, { name: "operator", scope: "operator" }).key, "content-type": "application/json" };
    expect((await host.api(q, { headers: viewer })).status).toBe(200);
    expect((await host.api("/api/v1/history", { headers: viewer })).status).toBe(200);
    expect((await host.api("/api/v1/history.csv", { headers: viewer })).status).toBe(200);
    expect((await host.api("/api/v1/history/stats", { headers: viewer })).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", q, { file: "small.gcode" }],
      ["PATCH", q, { mode: "confirm" }],
      ["DELETE", q, undefined],
      ["POST", `${q}/confirm`, undefined],
      ["POST", `${q}/start`, undefined],
    ] as const) {
      const res = await host.api(path, { method, headers: viewer, body: body && JSON.stringify(body) });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
    }
    expect((await host.api("/api/v1/history/1", { method: "DELETE", headers: operator })).status).toBe(403);
    expect((await host.api(q, { method: "PATCH", headers: operator, body: '{"mode":"confirm"}' })).status).toBe(200);
  });

  test("a failed print holds the queue, which says why in one sentence", async () => {
    await del(host, q);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
    await host.post(q, { file: "long.gcode" });
    await host.post(q, { file: "small.gcode" });
    expect((await host.post(`${q}/start`)).status).toBe(200);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "printing");
    expect((await host.post(`/api/v1/printers/${printer}/emergency-stop`)).status).toBe(200);
    const held = await host.waitFor(q, (v: any) => v.state === "awaiting-confirmation");
    expect(held).toMatchObject({ lastOutcome: "failed", items: [{ file: "small.gcode" }] });
    expect(held.notice.message).toBe("The print failed: Emergency stop. Clear the bed and confirm to go on.");
  }, 30_000);
});

describe("history over HTTP, from job events on the host's bus", () => {
  let host: TestHost;
  let printer: string;
  let sha: string;
  const T0 = Date.UTC(2026, 0, 10, 8);

  beforeAll(async () => {
    ({ host, printer } = await readyHost());
    await upload(host, "benchy.gcode", SMALL);
    sha = (await (await host.api("/api/v1/files/benchy.gcode")).json()).sha256;
    await host.post("/api/v1/printers", { name: "Second", transport: "virtual", autoconnect: false });
    const emit = (id: string, event: ReturnType<typeof jobEvent>) => host.bus.emit("printer.event", { id, event });
    const runs: [string, string, "done" | "failed" | "cancelled", number, string, string | null][] = [
      [printer, "h1", "done", 600, "benchy.gcode", sha],
      [printer, "h2", "failed", 120, "benchy.gcode", sha],
      ["second", "h3", "done", 900, "benchy.gcode", sha],
      ["second", "h4", "cancelled", 30, "@evil,\"name\".gcode", null],
    ];
    runs.forEach(([id, job, end, printTime, file, sha256], i) => {
      const base = { id: job, file, sha256, startedAt: T0 + i * 86_400_000 };
      emit(id, jobEvent("started", base));
      emit(id, jobEvent(end, { ...base, endedAt: base.startedAt + printTime * 1000, reason: end === "done" ? null : `It ${end}.` }, { printTime, filament: 1000 }));
    });
  }, 30_000);
  afterAll(() => host.close());

  test("filters and paging as query parameters; bad filters are 400s", async () => {
    const all = await (await host.api("/api/v1/history")).json();
    expect(all).toMatchObject({ total: 4, limit: 50, offset: 0 });
    expect(all.items.map((e: any) => e.jobId)).toEqual(["h4", "h3", "h2", "h1"]);
    expect(all.items[1]).toMatchObject({ printer: "second", printerName: "Second", outcome: "done", printTime: 900, sha256: sha });
    const get = async (query: string) => (await (await host.api(`/api/v1/history?${query}`)).json()).items.map((e: any) => e.jobId);
    expect(await get(`printer=${printer}`)).toEqual(["h2", "h1"]);
    expect(await get("outcome=failed")).toEqual(["h2"]);
    expect(await get("q=EVIL")).toEqual(["h4"]);
    expect(await get("from=2026-01-11&to=2026-01-12")).toEqual(["h3", "h2"]);
    expect(await get(`sha256=${sha}&limit=1&offset=1`)).toEqual(["h2"]);
    for (const bad of ["limit=0", "limit=501", "offset=-1", "outcome=great", "from=yesterday", "sha256=xyz", "format=xml"]) {
      const res = await host.api(`/api/v1/history?${bad}`);
      expect({ bad, status: res.status }).toEqual({ bad, status: 400 });
      expect((await res.json()).error.code).toBe("invalid_request");
    }
  });

  test("CSV export with the same filters, formula-safe", async () => {
    const res = await host.api("/api/v1/history.csv?printer=second");
    expect(res.headers.get("content-type")).toContain("text/csv");
    expect(res.headers.get("content-disposition")).toMatch(/attachment; filename="layerline-history-\d{4}-\d\d-\d\d\.csv"/);
    const lines = (await res.text()).split("\r\n");
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain(`"'@evil,""name"".gcode"`);
    expect(await (await host.api("/api/v1/history?format=csv&printer=second")).text()).toBe(lines.join("\r\n"));
  });

  test("statistics by content, by stored file, per printer; every file", async () => {
    const stats = await (await host.api(`/api/v1/history/stats?sha256=${sha}`)).json();
    expect(stats).toMatchObject({ prints: 3, successes: 2, failures: 1, averagePrintTime: 750, lastPrintTime: 900 });
    expect(stats.successRate).toBeCloseTo(2 / 3);
    expect(await (await host.api("/api/v1/history/stats?file=benchy.gcode")).json()).toEqual(stats);
    expect(await (await host.api(`/api/v1/history/stats?file=benchy.gcode&printer=${printer}`)).json()).toMatchObject({ printer, prints: 2, averagePrintTime: 600 });
    const files = (await (await host.api("/api/v1/history/stats")).json()).files;
    expect(files.map((f: any) => [f.file, f.prints])).toEqual([["@evil,\"name\".gcode", 1], ["benchy.gcode", 3]]);
    expect((await host.api("/api/v1/history/stats?file=nope.gcode")).status).toBe(404);
  });

  test("a key restricted to one printer sees that printer's history only", async () => {
    const admin = host.accounts.users.byName(ADMIN.username)!;
    const key = { "x-api-key": host.accounts.createKey(admin, { name: "second only", scope: "read-only", printerId: "second" }).key };
    const seen = await (await host.api("/api/v1/history", { headers: key })).json();
    expect(seen.items.map((e: any) => e.jobId)).toEqual(["h4", "h3"]);
    expect((await host.api(`/api/v1/history?printer=${printer}`, { headers: key })).status).toBe(403);
    const other = (await (await host.api(`/api/v1/history?printer=${printer}`)).json()).items[0].id;
    expect((await host.api(`/api/v1/history/${other}`, { headers: key })).status).toBe(404);
    expect((await (await host.api("/api/v1/history/stats?file=benchy.gcode", { headers: key })).json()).prints).toBe(1);
  });

  test("OctoPrint: a printed file has prints and statistics; the job its average and last print time", async () => {
    const entry = await (await host.api("/api/files/local/benchy.gcode")).json();
    const ref = fixture("api_files_recursive").files[0];
    expect(shapeDiff(entry, ref, { skip: ["$.gcodeAnalysis", "$.user"] })).toEqual([]);
    expect(entry.prints).toEqual({ success: 2, failure: 1, last: { success: true, date: (T0 + 2 * 86_400_000 + 900_000) / 1000, printTime: 900 } });
    expect(entry.statistics).toEqual({ averagePrintTime: { _default: 750 }, lastPrintTime: { _default: 900 } });
    expect((await host.post("/api/files/local/benchy.gcode", { command: "select" })).status).toBe(204);
    const job = await (await host.api("/api/job")).json();
    expect(job.job).toMatchObject({ averagePrintTime: 750, lastPrintTime: 900 });
  });

  test("deleting an entry (admin); unknown and malformed ids", async () => {
    const id = (await (await host.api("/api/v1/history?q=evil")).json()).items[0].id;
    expect((await host.api(`/api/v1/history/${id}`)).status).toBe(200);
    expect((await del(host, `/api/v1/history/${id}`)).status).toBe(204);
    expect((await del(host, `/api/v1/history/${id}`)).status).toBe(404);
    expect((await del(host, "/api/v1/history/abc")).status).toBe(400);
  });

  // End to end: the job events of a real print carry the job and its progress.
  test("a print on the virtual printer leaves a history row with its hash, time and outcome", async () => {
    expect((await host.post(`/api/v1/printers/${printer}/job`, { file: "benchy.gcode" })).status).toBe(200);
    const row = await host.waitFor("/api/v1/history?outcome=done&limit=1", (h: any) => h.items[0]?.startedAt > T0 + 10 * 86_400_000, 10_000);
    expect(row.items[0]).toMatchObject({ printer, file: "benchy.gcode", sha256: sha, source: "host", outcome: "done" });
    expect(row.items[0].endedAt).toBeGreaterThanOrEqual(row.items[0].startedAt);
  }, 20_000);
});
