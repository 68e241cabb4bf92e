import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

let host: TestHost;
let printer: string;

beforeAll(async () => {
  host = await startTestHost();
  const { printers } = await (await host.api("/api/v1/printers")).json();
  printer = printers[0].id;
  await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational" && p.firmware !== null);
}, 30_000);
afterAll(() => host.close());

const expectError = async (res: Response, status: number, code?: string) => {
  expect(res.status).toBe(status);
  const body = await res.json();
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(5);
  if (code) expect(body.error.code).toBe(code);
  return body.error;
};

describe("native API", () => {
  test("version and index", async () => {
    const v = await (await host.api("/api/v1/version")).json();
    expect(v.name).toBe("Layerline");
    expect(v.version).toMatch(/^\d+\.\d+\.\d+/);
    const index = await (await host.api("/api/v1")).json();
    expect(index.endpoints.length).toBeGreaterThan(10);
  });

  test("the first start has a connected virtual printer with live temperatures", async () => {
    const { printers } = await (await host.api("/api/v1/printers")).json();
    expect(printers).toHaveLength(1);
    expect(printers[0]).toMatchObject({ transport: "virtual", isDefault: true, state: "operational" });
    expect(printers[0].firmware.name).toContain("Marlin");
    const p = await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.temperatures.tool0 && p.temperatures.bed);
    expect(p.temperatures.tool0.actual).toBeGreaterThan(0);
  });

  test("commands reach the printer and change its state", async () => {
    const res = await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["M104 S200", "M140 S55", "G28", "G1 X20 Y30 Z5 F3000", "M114"] });
    expect(res.status).toBe(200);
    expect((await res.json()).queued).toBe(5);
    const p = await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.temperatures.tool0?.target === 200 && p.position?.x === 20);
    expect(p.temperatures.bed.target).toBe(55);
    expect(p.position).toMatchObject({ x: 20, y: 30, z: 5 });
    const { lines } = await (await host.api(`/api/v1/printers/${printer}/terminal`)).json();
    expect(lines.some((l: any) => l.dir === "send" && l.text.includes("G28"))).toBe(true);
    // Periodic chatter is marked for the terminal's filters; the commands are not.
    expect(lines.find((l: any) => l.dir === "send" && l.text.includes("M114"))?.kind).toBe("position");
    expect(lines.find((l: any) => l.dir === "send" && l.text.includes("G28"))?.kind).toBeUndefined();
    await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["M104 S0", "M140 S0"] });
  }, 20_000);

  test("upload, list, print to the end, delete", async () => {
    const res = await upload(host, "torus.gcode", Bun.file(TORUS), "parts");
    expect(res.status).toBe(201);
    const stored = await res.json();
    expect(stored).toMatchObject({ path: "parts/torus.gcode", size: Bun.file(TORUS).size });
    const { files } = await (await host.api("/api/v1/files")).json();
    expect(files.map((f: any) => f.path)).toContain("parts/torus.gcode");

    const start = await host.post(`/api/v1/printers/${printer}/job`, { file: "parts/torus.gcode" });
    expect(start.status).toBe(200);
    expect((await start.json()).state).toBe("printing");
    // While printing, the file cannot be deleted or replaced.
    await expectError(await host.api("/api/v1/files/parts/torus.gcode", { method: "DELETE" }), 409, "in_use");
    await expectError(await host.post(`/api/v1/printers/${printer}/job`, { file: "parts/torus.gcode" }), 409, "busy");

    const done = await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.job?.state === "done", 60_000);
    expect(done.state).toBe("operational");
    expect(done.progress.completion).toBe(100);
    expect(done.progress.bytesSent).toBe(done.progress.bytesTotal);
    expect(done.progress.linesSent).toBeGreaterThan(15_000);
    expect(done.link.resendRequests).toBe(0);

    const del = await host.api("/api/v1/files/parts/torus.gcode", { method: "DELETE" });
    expect(del.status).toBe(204);
    await expectError(await host.api("/api/v1/files/parts/torus.gcode"), 404, "file_not_found");
  }, 60_000);

  test("pause, resume and cancel a print", async () => {
    // A printer that takes time to move (50× real time), so there is a print to pause.
    const slow = await startTestHost({ virtual: { timeScale: 50 } });
    try {
      const id = (await (await slow.api("/api/v1/printers")).json()).printers[0].id;
      const at = `/api/v1/printers/${id}`;
      await slow.waitFor(at, (p: any) => p.state === "operational" && p.firmware !== null);
      await upload(slow, "torus.gcode", Bun.file(TORUS));
      expect((await slow.post(`${at}/job`, { file: "torus.gcode" })).status).toBe(200);
      await slow.waitFor(at, (p: any) => p.progress?.bytesSent > 20_000);
      expect((await slow.post(`${at}/job/pause`)).status).toBe(200);
      // Pausing lets the lines in flight finish and runs the pause script first.
      const paused = await slow.waitFor(at, (p: any) => p.state === "paused");
      expect(paused.job.state).toBe("paused");
      await Bun.sleep(300); // let what was in flight drain
      const before = (await (await slow.api(at)).json()).progress.bytesSent;
      await Bun.sleep(500);
      expect((await (await slow.api(at)).json()).progress.bytesSent).toBe(before);
      await expectError(await slow.post(`${at}/job/pause`), 409, "not_printing");
      expect((await (await slow.post(`${at}/job/resume`)).json()).state).toBe("printing");
      await slow.waitFor(at, (p: any) => p.progress.bytesSent > before);
      expect((await slow.post(`${at}/job/cancel`)).status).toBe(200);
      // Cancelling lets the lines in flight finish and runs the cancel script (heaters off).
      const cancelled = await slow.waitFor(at, (p: any) => p.job.state === "cancelled");
      expect(cancelled.state).toBe("operational");
      expect(cancelled.progress.completion).toBeLessThan(100);
      await slow.waitFor(at, (p: any) => p.temperatures.tool0?.target === 0);
    } finally {
      await slow.close();
    }
  }, 60_000);

  test("Server-Sent Events carry status changes", async () => {
    const res = await host.api(`/api/v1/events?printer=${printer}`);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["M105"] });
    const deadline = Date.now() + 5000;
    while (!text.includes("event: status") && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const data = /event: status\ndata: (.*)\n/.exec(text)![1]!;
    expect(JSON.parse(data).id).toBe(printer);
  });

  test("many listeners get whole, identical events (rendered once, shared); a poll answers as before", async () => {
    const open = (path: string) => host.api(path).then((r) => r.body!.getReader());
    const readers = await Promise.all([
      open(`/api/v1/events?printer=${printer}`),
      open(`/api/v1/events?printer=${printer}`),
      open(`/ui/events?printer=${printer}`),
      open(`/ui/events?printer=${printer}`),
    ]);
    await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["M105", "M114"] });
    const texts = await Promise.all(
      readers.map(async (reader) => {
        const decoder = new TextDecoder();
        let text = "";
        const deadline = Date.now() + 2500;
        while (Date.now() < deadline) {
          const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
          if (!chunk || chunk.done) break;
          text += decoder.decode(chunk.value, { stream: true });
        }
        await reader.cancel();
        return text;
      }),
    );
    const events = texts.map((text) =>
      text
        .split("\n\n")
        .filter((block) => block.startsWith("event: "))
        .map((block) => ({ event: block.slice(7, block.indexOf("\n")), data: block.split("\n").slice(1).map((l) => l.slice(6)).join("\n") })),
    );
    // Every JSON frame is whole; both JSON listeners saw the same status texts while both listened.
    for (const list of events.slice(0, 2)) for (const e of list) expect(() => JSON.parse(e.data)).not.toThrow();
    const statuses = events.slice(0, 2).map((list) => list.filter((e) => e.event === "status").map((e) => e.data));
    expect(statuses[0]!.length).toBeGreaterThan(1);
    expect(statuses[1]!.slice(-1)).toEqual(statuses[0]!.slice(-1));
    // The dashboards got the same live panels.
    const panels = events.slice(2).map((list) => list.filter((e) => e.event === "live").map((e) => e.data));
    expect(panels[0]!.length).toBeGreaterThan(0);
    expect(panels[1]!.at(-1)).toBe(panels[0]!.at(-1)!);
    expect(panels[0]!.at(-1)).toContain('data-state="operational"');

    const res = await host.api(`/api/v1/printers/${printer}`);
    expect(res.headers.get("content-type")).toBe("application/json;charset=utf-8");
    const one = await res.json();
    const { printers } = await (await host.api("/api/v1/printers")).json();
    expect(Object.keys(one)).toEqual(Object.keys(printers[0]));
    expect(one).toMatchObject({ id: printer, name: printers[0].name, state: "operational" });
  }, 30_000);

  test("a second printer can be added and removed", async () => {
    const res = await host.post("/api/v1/printers", { name: "Bench Virtual", transport: "virtual" });
    expect(res.status).toBe(201);
    const added = await res.json();
    expect(added.id).toBe("bench-virtual");
    expect(added.isDefault).toBe(false);
    await host.waitFor(`/api/v1/printers/bench-virtual`, (p: any) => p.state === "operational");
    expect((await host.api("/api/v1/printers/bench-virtual", { method: "DELETE" })).status).toBe(204);
    const { printers } = await (await host.api("/api/v1/printers")).json();
    expect(printers.map((p: any) => p.id)).toEqual([printer]);
  });
});

describe("bad input gets a clear 4xx, never a 500", () => {
  test("wrong types, missing fields, bad JSON", async () => {
    const e1 = await expectError(await host.post(`/api/v1/printers/${printer}/commands`, { commands: [1, 2] }), 400, "invalid_request");
    expect(e1.message).toContain("commands");
    await expectError(await host.post(`/api/v1/printers/${printer}/commands`, {}), 400, "invalid_request");
    await expectError(await host.post(`/api/v1/printers/${printer}/commands`, { commands: [] }), 400);
    await expectError(await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["x".repeat(300)] }), 400);
    await expectError(
      await host.api(`/api/v1/printers/${printer}/commands`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" }),
      400,
    );
    await expectError(await host.post(`/api/v1/printers/${printer}/job`, { file: 42 }), 400);
    await expectError(await host.post("/api/v1/printers", { name: "", transport: "teleport" }), 400);
    await expectError(await host.post("/api/v1/printers", { name: "No port", transport: "serial" }), 400);
  });

  test("bodies nested too deep or too large are refused before they are parsed or validated", async () => {
    const json = (body: string, path = `/api/v1/printers/${printer}/commands`) => host.api(path, { method: "POST", headers: { "content-type": "application/json" }, body });
    // Deep nesting used to overflow the stack inside the validation error (a 500).
    const deep = "[".repeat(20_000) + "]".repeat(20_000);
    for (const path of [`/api/v1/printers/${printer}/commands`, "/api/v1/printers", "/api/v1/apikeys", "/api/v1/users"]) {
      expect((await expectError(await json(deep, path), 400, "invalid_body")).message).toContain("nested");
    }
    // Brackets inside strings are text, not nesting.
    expect((await json(JSON.stringify({ commands: ["M117 " + "[".repeat(100)] }))).status).toBeLessThan(300);
    // A body past the cap (JSON, form, or chunked without a length) is a 413, whatever it holds.
    const big = JSON.stringify({ commands: Array.from({ length: 30_000 }, () => "M105 ".repeat(10)) });
    await expectError(await json(big), 413, "body_too_large");
    const chunked = new ReadableStream({
      start(c) {
        for (let i = 0; i < 40; i++) c.enqueue(new TextEncoder().encode(" ".repeat(50_000)));
        c.close();
      },
    });
    await expectError(await host.api(`/api/v1/printers/${printer}/commands`, { method: "POST", headers: { "content-type": "application/json" }, body: chunked }), 413, "body_too_large");
    await expectError(await host.api("/api/v1/printers", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "name=" + "x".repeat(2_000_000) }), 413);
    // The host is still well.
    expect((await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["M105"] })).status).toBeLessThan(300);
  });

  test("unknown printers, files and routes", async () => {
    expect((await upload(host, "empty.gcode", "")).status).toBe(201);
    const empty = await expectError(await host.post(`/api/v1/printers/${printer}/job`, { file: "empty.gcode" }), 400, "not_printable");
    expect(empty.message).toContain("empty (0 bytes)");
    await expectError(await host.api("/api/v1/printers/nope"), 404, "printer_not_found");
    await expectError(await host.post("/api/v1/printers/nope/connect"), 404, "printer_not_found");
    await expectError(await host.post(`/api/v1/printers/${printer}/job`, { file: "missing.gcode" }), 404, "file_not_found");
    await expectError(await host.api("/api/v1/no-such-thing"), 404, "not_found");
  });

  test("hostile uploads are refused and nothing is written", async () => {
    await expectError(await upload(host, "evil.gcode", "G28\n", "../.."), 400, "invalid_path");
    await expectError(await upload(host, "notes.txt", "hello"), 400, "not_printable");
    await expectError(await host.api("/api/v1/files", { method: "POST", body: new FormData() }), 400);
    const { files } = await (await host.api("/api/v1/files")).json();
    expect(files.map((f: any) => f.name)).not.toContain("evil.gcode");
    expect(await Bun.file(`${host.dataDir}/evil.gcode`).exists()).toBe(false);
  });

  test("job control in the wrong state is a 409 with a hint", async () => {
    const err = await expectError(await host.post(`/api/v1/printers/${printer}/job/resume`), 409, "not_paused");
    expect(err.hint.length).toBeGreaterThan(0);
  });
});
