/**
 * The farm queue over real HTTP on a real host with two virtual printers (20× real time): copies
 * go to the free printers and print to `done`; a printer waits for its bed to be cleared unless
 * it starts by itself; a file that fits no printer waits with the reason until a printer's
 * profile fits it; moved and deleted files; hostile input; a key restricted to one printer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { farmHost } from "../helpers/farm.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { upload, type TestHost } from "../helpers/host.ts";

/** A few seconds at 20×, analysed: a 10 mm part at X/Y 20. */
const PART = layeredGcode({ layers: 3, objects: [{ name: "a", x: 20, y: 20 }] });
/** The same part at X 240: off a 200 mm bed. */
const WIDE = layeredGcode({ layers: 3, objects: [{ name: "a", x: 240, y: 20 }] });
/** The part with a Klipper printer's start and end macros, as the Voron file of ../shared/data/gcode calls them. */
const KLIPPER = layeredGcode({ layers: 3, header: ["print_start EXTRUDER=250 BED=100"], objects: [{ name: "a", x: 20, y: 20 }] }) + "print_end\n";

const Q = "/api/v1/farm/queue";
let host: TestHost, first: string, second: string;
const queue = async () => (await host.api(Q)).json();
const patch = (path: string, body: unknown) => host.api(path, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const del = (path: string) => host.api(path, { method: "DELETE" });
const clearBed = async (id: string) => expect((await host.post(`/api/v1/printers/${id}/bed-cleared`)).status).toBe(200);
const idle = (id: string) => host.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational" && (p.job === null || ["done", "cancelled", "failed"].includes(p.job.state)), 30_000);
const bedOf = (q: any, id: string) => q.printers.find((p: any) => p.id === id).bed;

beforeAll(async () => {
  ({ host, first, second } = await farmHost());
  for (const [name, text] of [["part.gcode", PART], ["wide.gcode", WIDE], ["voron.gcode", KLIPPER]] as const) expect((await upload(host, name, text)).status).toBe(201);
  for (const name of ["part.gcode", "wide.gcode", "voron.gcode"]) await host.waitFor(`/api/v1/files/${name}`, (f: any) => f.analysis?.state === "done");
}, 60_000);
afterAll(() => host.close());

describe("the farm queue", () => {
  test("three copies: one on each free printer, the third once a bed is cleared; each printer waits for its bed", async () => {
    const empty = await queue();
    expect(empty.items).toEqual([]);
    expect(empty.printers.map((p: any) => [p.id, p.bed, p.autoStart, p.busy])).toEqual([[first, "clear", false, null], [second, "clear", false, null]]);
    const res = await host.post(Q, { file: "part.gcode", copies: 3 });
    expect(res.status).toBe(201);
    const { item } = await res.json();
    expect(item).toMatchObject({ file: "part.gcode", copies: 3 });
    // Both printers take a copy and print it to the end; the third waits for a bed.
    const waiting = await host.waitFor(Q, (q: any) => q.items[0]?.printed === 2, 30_000);
    expect(waiting.items[0]).toMatchObject({ copies: 3, printed: 2, printing: 0, remaining: 1 });
    expect(waiting.items[0].waiting).toContain("waiting for the bed to be cleared");
    expect(waiting.items[0].runs.map((r: any) => [r.printer, r.outcome]).sort()).toEqual([[first, "done"], [second, "done"]].sort());
    expect([bedOf(waiting, first), bedOf(waiting, second)]).toEqual(["printed", "printed"]);
    expect((await (await host.api("/api/v1/history?limit=5")).json()).items.filter((h: any) => h.file === "part.gcode" && h.outcome === "done")).toHaveLength(2);
    // The second printer's bed is cleared: it takes the third copy; the entry leaves when all printed.
    await clearBed(second);
    const finished = await host.waitFor(Q, (q: any) => q.items.length === 0, 30_000);
    expect(finished.recent.slice(0, 3).map((r: any) => [r.printer, r.file, r.outcome])).toEqual([[second, "part.gcode", "done"], ...finished.recent.slice(1, 3).map((r: any) => [r.printer, "part.gcode", "done"])]);
    expect(finished.recent[0].printerName).toBe("Second");
    expect(bedOf(finished, second)).toBe("printed");
    await idle(first);
    await idle(second);
  }, 90_000);

  test("a file that fits no printer waits with the reason; a printer whose profile fits it takes it", async () => {
    await clearBed(first);
    await clearBed(second);
    expect((await host.post(Q, { file: "wide.gcode" })).status).toBe(201);
    const q = await queue();
    expect(q.items[0].waiting).toMatch(/^Fits no printer: Virtual printer: it spans X .*; the bed is 200 × 200 mm; Second: it spans/);
    expect(q.items[0].runs).toEqual([]);
    // The second printer gets a bigger bed: the file goes there.
    expect((await patch(`/api/v1/printers/${second}/profile`, { volume: { width: 300, depth: 300 } })).status).toBe(200);
    const done = await host.waitFor(Q, (v: any) => v.items.length === 0, 30_000);
    expect(done.recent[0]).toMatchObject({ printer: second, file: "wide.gcode", outcome: "done" });
    // The first printer stayed free all along.
    expect(bedOf(done, first)).toBe("clear");
    await idle(second);
  }, 60_000);

  test("auto-start: a printer goes on to the next copy without a bed confirmation; a cancelled copy goes back and the printer waits", async () => {
    expect((await patch(`/api/v1/printers/${first}/farm`, { autoStart: true })).status).toBe(200);
    // The second printer's bed is not cleared since its last print: only the first prints.
    expect(bedOf(await queue(), second)).toBe("printed");
    expect((await host.post(Q, { file: "part.gcode", copies: 2 })).status).toBe(201);
    const done = await host.waitFor(Q, (v: any) => v.items.length === 0, 30_000);
    expect(done.recent.slice(0, 2).map((r: any) => r.printer)).toEqual([first, first]);
    await idle(first);
    // A long copy, cancelled: it is back in the queue, and even auto-start waits for the bed.
    expect((await host.post(Q, { file: "long.gcode" })).status).toBe(201);
    await host.waitFor(`/api/v1/printers/${first}`, (p: any) => p.job?.file === "long.gcode" && p.job.state === "printing");
    expect((await queue()).items[0]).toMatchObject({ printing: 1, remaining: 0, runs: [{ printer: first, outcome: null }] });
    expect((await host.post(`/api/v1/printers/${first}/job/cancel`)).status).toBe(200);
    const back = await host.waitFor(Q, (v: any) => v.items[0]?.remaining === 1, 30_000);
    expect(back.items[0].runs[0]).toMatchObject({ printer: first, outcome: "cancelled" });
    expect(bedOf(back, first)).toBe("stopped");
    expect(back.items[0].waiting).toContain("waiting for the bed to be cleared");
    expect((await del(`${Q}/${back.items[0].id}`)).status).toBe(200);
    expect((await patch(`/api/v1/printers/${first}/farm`, { autoStart: false })).status).toBe(200);
    await idle(first);
  }, 90_000);

  test("reorder, copies, remove; moved files are followed, deleted ones shown missing", async () => {
    // Nothing may start: both beds wait.
    await host.waitFor(Q, (q: any) => q.printers.every((p: any) => p.busy !== null));
    const ids: string[] = [];
    for (const file of ["part.gcode", "wide.gcode", "short.gcode"]) ids.push((await (await host.post(Q, { file })).json()).item.id);
    const moved = await host.post(`${Q}/${ids[2]}/move`, { to: 0 });
    expect((await moved.json()).items.map((i: any) => i.file)).toEqual(["short.gcode", "part.gcode", "wide.gcode"]);
    const copies = await patch(`${Q}/${ids[0]}`, { copies: 5 });
    expect((await copies.json()).items.find((i: any) => i.id === ids[0])).toMatchObject({ copies: 5, remaining: 5 });
    // The file moves into a folder: the entry follows.
    expect((await host.post("/api/v1/files/part.gcode", { command: "move", destination: "parts/part.gcode" })).status).toBeLessThan(300);
    expect((await queue()).items.find((i: any) => i.id === ids[0]).file).toBe("parts/part.gcode");
    // Deleted: shown missing, with the reason.
    expect((await del("/api/v1/files/short.gcode")).status).toBeLessThan(300);
    const missing = (await queue()).items[0];
    expect(missing).toMatchObject({ file: "short.gcode", missing: true, waiting: "The file was deleted after it was queued; it will not print." });
    expect((await (await del(`${Q}/${ids[1]}`)).json()).items.map((i: any) => i.file)).toEqual(["short.gcode", "parts/part.gcode"]);
    expect((await (await del(Q)).json()).items).toEqual([]);
  }, 30_000);

  test("a file calling Klipper macros waits: both printers run Marlin, which would skip its start macro", async () => {
    const added = await host.post(Q, { file: "voron.gcode", copies: 2 });
    expect(added.status).toBe(201);
    const id = (await added.json()).item.id;
    const why = "it calls Klipper macros (print_start, print_end); the printer runs Marlin firmware, which skips Klipper's commands as unknown — with them whatever they do, such as heating and homing in a start macro";
    const item = (await queue()).items.find((i: any) => i.id === id);
    expect(item).toMatchObject({ remaining: 2, runs: [], waiting: `Fits no printer: Virtual printer: ${why}; Second: ${why}.` });
    expect((await del(`${Q}/${id}`)).status).toBe(200);
  });

  test("hostile input gets clear errors", async () => {
    const cases: [Promise<Response>, number, string][] = [
      [host.post(Q, { file: "nope.gcode" }), 404, "file_not_found"],
      [host.post(Q, { file: "../../etc/passwd" }), 400, "invalid_path"],
      [host.post(Q, { file: "long.gcode", copies: 0 }), 400, "invalid_request"],
      [host.post(Q, { file: "long.gcode", copies: 1.5 }), 400, "invalid_request"],
      [host.post(Q, { file: "long.gcode", copies: "3" }), 400, "invalid_request"],
      [host.post(Q, { file: "long.gcode", copies: 100000 }), 400, "invalid_request"],
      [host.post(Q, {}), 400, "invalid_request"],
      [host.api(Q, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" }), 400, "invalid_body"],
      [patch(`${Q}/nope`, { copies: 2 }), 404, "not_found"],
      [host.post(`${Q}/nope/move`, { to: 0 }), 404, "not_found"],
      [host.post(`${Q}/nope/move`, { to: -1 }), 400, "invalid_request"],
      [del(`${Q}/nope`), 404, "not_found"],
      [host.post("/api/v1/printers/nope/bed-cleared"), 404, "printer_not_found"],
      [patch(`/api/v1/printers/${first}/farm`, { autoStart: "yes" }), 400, "invalid_request"],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      const body = await res.json();
      expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
      expect(body.error.message.length).toBeGreaterThan(5);
    }
  });

  test("a key restricted to one printer sees the farm queue but cannot change it; it clears its own printer's bed", async () => {
    const key = (await (await host.post("/api/v1/apikeys", { name: "second only", scope: "full", printer: second })).json()).key as string;
    const as = (path: string, init: RequestInit = {}) => host.api(path, { ...init, headers: { "x-api-key": key, "content-type": "application/json", ...init.headers } });
    // It sees the entries, but no other printer: not its name, bed, runs or what it printed.
    const seen = await as(Q);
    expect(seen.status).toBe(200);
    const view = await seen.json();
    expect(view.printers.map((p: any) => p.id)).toEqual([second]);
    const printersIn = (v: any) => [...v.items.flatMap((i: any) => i.runs), ...v.recent].map((r: any) => r.printer);
    expect(printersIn(await queue())).toContain(first);
    expect(printersIn(view).every((p: string) => p === second)).toBe(true);
    expect(JSON.stringify(view)).not.toContain((await queue()).printers.find((p: any) => p.id === first).name);
    const refused = await as(Q, { method: "POST", body: JSON.stringify({ file: "long.gcode" }) });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe("printer_restricted");
    const cleared = await as(`/api/v1/printers/${second}/bed-cleared`, { method: "POST" });
    expect(cleared.status).toBe(200);
    expect((await cleared.json()).printers.map((p: any) => p.id)).toEqual([second]);
    expect((await as(`/api/v1/printers/${first}/bed-cleared`, { method: "POST" })).status).toBe(403);
    // Reading only, for a read-only user's key.
    expect((await host.anonymous(Q)).status).toBe(401);
  });
});
