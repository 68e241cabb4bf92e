/**
 * OctoPod (iOS), replayed as it speaks.
 * Client source read: gdombiak/OctoPod OctoPod/OctoPrint/OctoPrintRESTClient.swift (every REST
 * call), HTTPClient.swift (X-Api-Key on each request, paths percent-encoded with
 * .urlQueryAllowed, its own multipart writer: `path` then `file`, closing `--boundary--` with no
 * CRLF after it; 204/201 expected), WebSocketClient.swift and OctoPrintClient.swift
 * (ws <printer>/sockjs/websocket, a heartbeat " " every 40 s, `current.state/temps[0]/progress/
 * currentZ/logs`, `history.temps`, `event` PrinterStateChanged; /api/printer 409 = offline).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN, readyHost, type TestHost } from "../../helpers/host.ts";
import { layeredGcode } from "../../helpers/gcode.ts";
import { multipart } from "../../helpers/multipart.ts";

let host: TestHost;
let printer: string;
beforeAll(async () => {
  ({ host, printer } = await readyHost());
}, 30_000);
afterAll(() => host.close());

const headers = () => ({ "X-Api-Key": host.apiKey });
const encoded = (service: string) => encodeURI(service); // close to .urlQueryAllowed for these paths
const get = async (service: string) => fetch(host.url + encoded(service), { headers: headers() });
const post = (service: string, json: unknown) =>
  fetch(host.url + encoded(service), { method: "POST", headers: { ...headers(), "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(json) });

describe("REST", () => {
  test("connect to the server: passive login, version, connection, settings, profiles, custom controls, system commands", async () => {
    const login = await post("/api/login", { passive: true });
    expect(login.status).toBe(200);
    const me = await login.json();
    expect(me.name).toBe(ADMIN.username);
    expect(typeof me.session).toBe("string");
    expect((await (await get("/api/version")).json()).text).toStartWith("OctoPrint");
    const connection = await (await get("/api/connection")).json();
    expect(connection.current.state).toBe("Operational");
    expect(Array.isArray(connection.options.ports)).toBe(true);
    expect((await get("/api/settings")).status).toBe(200);
    expect((await get("/api/printerprofiles")).status).toBe(200);
    const custom = await get("/api/printer/command/custom");
    expect(custom.status).toBe(200);
    expect(Array.isArray((await custom.json()).controls)).toBe(true);
    expect(await (await get("/api/system/commands")).json()).toEqual({ core: [], custom: [], plugin: [] });
  });

  test("files: upload with OctoPod's multipart (no CRLF after the closing boundary), list recursively, print, delete", async () => {
    const { body, contentType } = multipart(
      [
        { name: "path", value: "phone" },
        { name: "file", value: layeredGcode({ layers: 2, objects: [{ name: "o", x: 10, y: 10 }] }), filename: "from phone.gcode", type: "application/octet-stream" },
      ],
      { finalCrlf: false },
    );
    const up = await fetch(`${host.url}/api/files/local`, { method: "POST", headers: { ...headers(), "content-type": contentType }, body });
    expect(up.status).toBe(201);
    const list = await (await get("/api/files?recursive=true")).json();
    const folder = list.files.find((f: any) => f.name === "phone");
    expect(folder.type).toBe("folder");
    expect(folder.children.map((c: any) => c.path)).toEqual(["phone/from phone.gcode"]);
    expect(typeof list.free).toBe("number");
    expect((await get("/api/files/local?recursive=true")).status).toBe(200);
    expect((await post("/api/files/local/phone/from phone.gcode", { command: "select", print: true })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.job.file.name === "from phone.gcode" && j.state === "Operational" && j.progress.completion === 100, 20_000);
    const del = await fetch(host.url + encoded("/api/files/local/phone/from phone.gcode"), { method: "DELETE", headers: headers() });
    expect(del.status).toBe(204);
  }, 30_000);

  test("controls: tool select then flowrate and extrude, feedrate, jog, home, temperatures, fan, SD commands", async () => {
    expect((await post("/api/printer/tool", { command: "select", tool: "tool0" })).status).toBe(204);
    expect((await post("/api/printer/tool", { command: "flowrate", factor: 95 })).status).toBe(204);
    expect((await post("/api/printer/tool", { command: "extrude", amount: 5, speed: 300 })).status).toBe(204);
    expect((await post("/api/printer/printhead", { command: "feedrate", factor: 110 })).status).toBe(204);
    expect((await post("/api/printer/printhead", { command: "jog", x: 10.5 })).status).toBe(204);
    expect((await post("/api/printer/printhead", { command: "home", axes: ["x", "y"] })).status).toBe(204);
    expect((await post("/api/printer/tool", { command: "target", targets: { tool0: 200 } })).status).toBe(204);
    expect((await post("/api/printer/bed", { command: "target", target: 55 })).status).toBe(204);
    expect((await post("/api/printer/command", { command: "M106 S127" })).status).toBe(204);
    // A custom control's dictionary is posted as it is: extra keys beside command(s).
    expect((await post("/api/printer/command", { name: "Motors off", commands: ["M18"] })).status).toBe(204);
    for (const command of ["init", "refresh"]) expect((await post("/api/printer/sd", { command })).status).toBe(204);
    await host.waitFor("/api/printer", (p: any) => p.temperature.bed?.target === 55 && p.temperature.tool0?.target === 200);
  });
});

describe("the socket", () => {
  test("connected, a heartbeat of one space is ignored, auth with the passive session, then history and current in the shapes OctoPod parses", async () => {
    const me = await (await post("/api/login", { passive: true })).json();
    const ws = new WebSocket(`${host.url.replace("http", "ws")}/sockjs/websocket`);
    const messages: any[] = [];
    ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
    await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
    ws.send(" ");
    ws.send(JSON.stringify({ auth: `${me.name}:${me.session}` }));
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!check() && Date.now() < deadline) await Bun.sleep(20);
      expect(check()).toBe(true);
    };
    await until(() => messages.some((m) => m.history) && messages.some((m) => m.current));
    expect(messages[0].connected).toBeDefined();
    expect(Array.isArray(messages.find((m) => m.history).history.temps)).toBe(true);
    const current = messages.find((m) => m.current).current;
    expect(typeof current.state.text).toBe("string");
    expect(typeof current.state.flags.printing).toBe("boolean");
    expect(Array.isArray(current.temps)).toBe(true);
    expect(current.progress).toBeObject();
    expect("currentZ" in current).toBe(true);
    // A print start: PrinterStateChanged with state_id / state_string.
    const form = new FormData();
    form.append("file", new Blob([layeredGcode({ layers: 2, objects: [{ name: "o", x: 10, y: 10 }] })]), "ws.gcode");
    form.append("print", "true");
    expect((await fetch(`${host.url}/api/files/local`, { method: "POST", headers: headers(), body: form })).status).toBe(201);
    await until(() => messages.some((m) => m.event?.type === "PrinterStateChanged" && m.event.payload.state_id === "PRINTING"));
    const changed = messages.find((m) => m.event?.type === "PrinterStateChanged" && m.event.payload.state_id === "PRINTING").event.payload;
    expect(typeof changed.state_string).toBe("string");
    ws.close();
    await host.waitFor("/api/job", (j: any) => j.state === "Operational");
  }, 30_000);

  test("the printer off: /api/printer answers 409, which OctoPod shows as Offline", async () => {
    expect((await post("/api/connection", { command: "disconnect" })).status).toBe(204);
    await host.waitFor("/api/connection", (c: any) => c.current.state === "Closed");
    expect((await get("/api/printer")).status).toBe(409);
    expect((await post("/api/connection", { command: "connect" })).status).toBe(204);
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.state === "operational");
  }, 30_000);
});
