/**
 * The push channel: plain WebSocket and SockJS framing, auth/throttle/subscribe, reauthRequired,
 * per-printer sockets, and that nothing but `connected` reaches a socket before auth.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestHost, type TestHost } from "../helpers/host.ts";
import { login } from "../helpers/session.ts";

let host: TestHost;
let printer: string;

beforeAll(async () => {
  host = await startTestHost();
  printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  await host.waitFor("/api/job", (j: any) => j.state === "Operational");
}, 30_000);
afterAll(() => host.close());

/** A socket that records every message. */
async function socket(path: string) {
  const ws = new WebSocket(`${host.url.replace("http", "ws")}${path}`);
  const messages: any[] = [];
  ws.onmessage = (e) => messages.push(String(e.data));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`socket ${path} failed`));
  });
  const until = async (check: (m: any[]) => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!check(messages) && Date.now() < deadline) await Bun.sleep(20);
    if (!check(messages)) throw new Error(`timed out; got ${messages.map((m) => m.slice(0, 60)).join(" | ")}`);
  };
  return { ws, messages, until, send: (m: unknown) => ws.send(typeof m === "string" ? m : JSON.stringify(m)) };
}
const types = (messages: string[]) => messages.map((m) => Object.keys(JSON.parse(m))[0]);
const session = async () => (await (await host.post("/api/login", { passive: true })).json()).session as string;

describe("the plain WebSocket", () => {
  test("before auth only `connected`; a stale auth gets reauthRequired; a good one the history", async () => {
    const s = await socket("/sockjs/websocket");
    await s.until((m) => m.length >= 1);
    await host.post(`/api/v1/printers/${printer}/commands`, { commands: ["M105"] });
    await Bun.sleep(700);
    expect(types(s.messages)).toEqual(["connected"]);
    s.send({ auth: "admin:not-a-session" });
    await s.until((m) => types(m).includes("reauthRequired"));
    expect(JSON.parse(s.messages.at(-1)).reauthRequired).toEqual({ reason: "stale" });
    s.send("this is not json");
    s.send({ auth: `admin:${await session()}` });
    await s.until((m) => types(m).includes("current"));
    expect(types(s.messages).slice(2, 5)).toEqual(["history", "timelapse", "event"]);
    s.ws.close();
  });

  test("subscribe narrows what arrives: no state, only chosen events", async () => {
    const s = await socket("/sockjs/websocket");
    s.send({ subscribe: { state: false, events: ["UpdatedFiles"], plugins: false } });
    s.send({ auth: `admin:${await session()}` });
    await Bun.sleep(300);
    const form = new FormData();
    form.append("file", new Blob(["G28\n"]), "sub.gcode");
    await host.api("/api/files/local", { method: "POST", body: form });
    await s.until((m) => m.some((x) => x.includes("UpdatedFiles")));
    await Bun.sleep(700);
    const seen = types(s.messages);
    expect(seen).not.toContain("current");
    expect(seen).not.toContain("history");
    const events = s.messages.map((m) => JSON.parse(m)).filter((m) => m.event).map((m) => m.event.type);
    expect(new Set(events)).toEqual(new Set(["UpdatedFiles"]));
    s.ws.close();
  });

  test("logging out sends reauthRequired to the sockets of that session", async () => {
    const browser = await login(host);
    const passive = await (await host.anonymous("/api/login", { method: "POST", headers: { cookie: browser.cookie, "x-csrf-token": browser.csrf, "content-type": "application/json" }, body: '{"passive":true}' })).json();
    const s = await socket("/sockjs/websocket");
    s.send({ auth: `admin:${passive.session}` });
    await s.until((m) => types(m).includes("history"));
    await host.anonymous("/account/logout-everywhere", { method: "POST", headers: { cookie: browser.cookie, "x-csrf-token": browser.csrf }, redirect: "manual" });
    await s.until((m) => types(m).includes("reauthRequired"));
    expect(JSON.parse(s.messages.find((m) => m.includes("reauthRequired"))).reauthRequired.reason).toBe("logout");
    s.ws.close();
  });

  test("an API key on the upgrade authenticates at once; per-printer sockets exist; unknown printers close", async () => {
    const s = await socket(`/printers/${printer}/sockjs/websocket?apikey=${host.apiKey}`);
    await s.until((m) => types(m).includes("history"));
    s.ws.close();
    const ws = new WebSocket(`${host.url.replace("http", "ws")}/printers/nope/sockjs/websocket`);
    const code = await new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
    expect(code).toBe(4404);
  });
});

describe("events and plugin messages", () => {
  test("uploads, selections and app-key requests reach authenticated sockets", async () => {
    const s = await socket(`/sockjs/websocket?apikey=${host.apiKey}`);
    await s.until((m) => types(m).includes("history"));
    const form = new FormData();
    form.append("file", new Blob(["G28\n"]), "evt.gcode");
    form.append("select", "true");
    form.append("userdata", '{"slicer":"test"}');
    await host.api("/api/files/local", { method: "POST", body: form });
    await host.anonymous("/plugin/appkeys/request", { method: "POST", headers: { "content-type": "application/json" }, body: '{"app":"Phone app"}' });
    await s.until((m) => m.some((x) => x.includes('"plugin":{"plugin":"appkeys"')));
    const all = s.messages.map((m) => JSON.parse(m));
    const events = all.filter((m) => m.event).map((m) => m.event);
    expect(events.find((e) => e.type === "Upload").payload).toEqual({ name: "evt.gcode", path: "evt.gcode", target: "local", select: true, print: false, effective_select: true, effective_print: false, userdata: { slicer: "test" } });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["FileAdded", "FileSelected", "UpdatedFiles"]));
    const plugin = all.find((m) => m.plugin).plugin;
    expect(plugin).toMatchObject({ plugin: "appkeys", data: { type: "request_access", app_name: "Phone app" } });
    s.ws.close();
  });

  test("copies, moves and deletes are announced with OctoPrint's payloads", async () => {
    const s = await socket(`/sockjs/websocket?apikey=${host.apiKey}`);
    await s.until((m) => types(m).includes("history"));
    const form = new FormData();
    form.append("file", new Blob(["G28\n"]), "moving.gcode");
    await host.api("/api/files/local", { method: "POST", body: form });
    await host.post("/api/files/local/moving.gcode", { command: "copy", destination: "copied.gcode" });
    await host.post("/api/files/local/moving.gcode", { command: "move", destination: "moved.gcode" });
    await host.api("/api/files/local/moved.gcode", { method: "DELETE" });
    await s.until((m) => m.some((x) => x.includes('"FileRemoved"')));
    const events = s.messages.map((m) => JSON.parse(m)).filter((m) => m.event).map((m) => m.event);
    expect(events.filter((e) => /^File(Added|Moved|Removed)$/.test(e.type)).map((e) => [e.type, e.payload])).toEqual([
      ["FileAdded", { storage: "local", path: "moving.gcode", name: "moving.gcode", type: ["machinecode", "gcode"] }],
      ["FileAdded", { storage: "local", path: "copied.gcode", name: "copied.gcode", type: ["machinecode", "gcode"] }],
      ["FileMoved", { storage: "local", source_path: "moving.gcode", source_name: "moving.gcode", source_type: ["machinecode", "gcode"], destination_path: "moved.gcode", destination_name: "moved.gcode", destination_type: ["machinecode", "gcode"] }],
      ["FileRemoved", { storage: "local", path: "moved.gcode", name: "moved.gcode", type: ["machinecode", "gcode"] }],
    ]);
    s.ws.close();
  });
});

describe("SockJS", () => {
  test("info, and the websocket transport's framing (o, a[...])", async () => {
    const info = await (await host.anonymous("/sockjs/info")).json();
    expect(info).toMatchObject({ websocket: true, cookie_needed: false });
    const s = await socket("/sockjs/123/abcdefgh/websocket");
    await s.until((m) => m.length >= 2);
    expect(s.messages[0]).toBe("o");
    const first = JSON.parse(s.messages[1].slice(1));
    expect(Object.keys(JSON.parse(first[0]))).toEqual(["connected"]);
    s.send([JSON.stringify({ auth: `admin:${await session()}` })]);
    await s.until((m) => m.some((x) => x.startsWith("a[") && x.includes("history")));
    s.ws.close();
  });

  test("the xhr polling transport", async () => {
    const base = "/sockjs/000/pollsess/";
    const open = await host.anonymous(`${base}xhr`, { method: "POST" });
    expect(await open.text()).toBe("o\n");
    const first = await (await host.anonymous(`${base}xhr`, { method: "POST" })).text();
    expect(first.startsWith("a[")).toBe(true);
    expect(JSON.parse(JSON.parse(first.slice(1))[0]).connected).toBeDefined();
    const sent = await host.anonymous(`${base}xhr_send`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify([JSON.stringify({ auth: `admin:${await session()}` })]) });
    expect(sent.status).toBe(204);
    const next = await (await host.anonymous(`${base}xhr`, { method: "POST" })).text();
    expect(next).toContain("history");
    expect((await host.anonymous(`${base}xhr_send`, { method: "POST", headers: { "content-type": "text/plain" }, body: "[broken" })).status).toBe(400);
  });
});
