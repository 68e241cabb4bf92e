/**
 * Layerline's OctoPrint-compatible answers against real OctoPrint 1.11.8 answers
 * (tests/fixtures/octoprint-shapes): same keys, same types, same status codes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gcodeAnalysis } from "../../src/analysis/octoprint.ts";
import { fileEntry } from "../../src/server/compat/octoprint/files.ts";
import { fixture, fixtureIndex, shapeDiff } from "../helpers/shape.ts";
import { startTestHost, type TestHost } from "../helpers/host.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;
const index = fixtureIndex();

let host: TestHost;
const json = async (path: string, init?: RequestInit) => {
  const res = await host.api(path, init);
  return { status: res.status, body: res.status === 204 ? null : await res.json(), headers: res.headers };
};
const same = (actual: unknown, name: string, options?: Parameters<typeof shapeDiff>[2]) => expect(shapeDiff(actual, fixture(name), options)).toEqual([]);
const HEATERS = { dynamic: ["$.temperature"] };

beforeAll(async () => {
  // Slow enough (50× real time) that a print can be watched and paused.
  host = await startTestHost({ virtual: { timeScale: 50 } });
  await host.waitFor("/api/job", (j: any) => j.state === "Operational");
  await host.waitFor("/api/printer", (p: any) => p.temperature?.tool0 && p.temperature?.bed);
}, 30_000);
afterAll(() => host.close());

describe("the shapes of OctoPrint 1.11.8", () => {
  test("version, server", async () => {
    const v = await json("/api/version");
    same(v.body, "api_version");
    expect(v.body.text).toStartWith("OctoPrint");
    expect(v.body.server).toBe(host.routes.length > 0 ? (await (await host.api("/api/v1/version")).json()).version : "");
    same((await json("/api/server")).body, "api_server");
  });

  test("refusals: no key, wrong password", async () => {
    const noKey = await host.anonymous("/api/version");
    expect(noKey.status).toBe(index.api_version_no_key_403.status);
    expect(await noKey.json()).toEqual(fixture("api_version_no_key_403"));
    const wrong = await host.anonymous("/api/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "admin", pass: "wrong" }) });
    expect(wrong.status).toBe(index.api_login_wrong_password_403.status);
    expect(await wrong.json()).toEqual(fixture("api_login_wrong_password_403"));
  });

  test("passive login and current user", async () => {
    const login = await json("/api/login", { method: "POST", headers: { "content-type": "application/json" }, body: '{"passive":true}' });
    same(login.body, "api_login_passive");
    expect(login.body._login_mechanism).toBe("apikey");
    expect(login.body.apikey).toBe(host.apiKey);
    expect(login.body.session).toMatch(/^[\w-]{43}$/);
    expect(login.body._credentials_seen).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    const me = await json("/api/currentuser");
    same(me.body, "api_currentuser");
    expect(me.body.permissions).toEqual(expect.arrayContaining(["ADMIN", "STATUS", "PRINT", "FILES_UPLOAD", "CONTROL"]));
  });

  test("connection, printer, tool, bed, command (idle, virtual printer)", async () => {
    const c = await json("/api/connection");
    same(c.body, "api_connection_virtual_operational");
    expect(c.body.current).toMatchObject({ state: "Operational", port: "VIRTUAL", printerProfile: "_default" });
    same((await json("/api/printer")).body, "api_printer_virtual_idle", HEATERS);
    const history = await host.waitFor("/api/printer?history=true&limit=2", (p: any) => p.temperature.history.length === 2);
    same(history, "api_printer_virtual_history2", { dynamic: [] , skip: ["$.temperature.history[]"] });
    expect(shapeDiff(history.temperature.history[1], fixture("api_printer_virtual_history2").temperature.history[1])).toEqual([]);
    same((await json("/api/printer/tool")).body, "api_printer_tool_virtual");
    same((await json("/api/printer/bed")).body, "api_printer_bed_virtual");
    const cmd = await host.post("/api/printer/command", { command: "M105" });
    expect(cmd.status).toBe(index.api_printer_command_M105_204.status);
    expect(await cmd.text()).toBe("");
  });

  test("job before anything was selected", async () => {
    same((await json("/api/job")).body, "api_job_idle");
  });

  test("upload, files list with the analysis, one file, profiles, settings", async () => {
    const form = new FormData();
    form.append("file", Bun.file(TORUS), "torus.gcode");
    const up = await host.api("/api/files/local", { method: "POST", body: form });
    expect(up.status).toBe(index.api_files_local_POST_upload.status);
    expect(up.headers.get("location")).toBe(`${host.url}/api/files/local/torus.gcode`);
    same(await up.json(), "api_files_local_POST_upload");
    // The upload is analysed in the background; then the entry has OctoPrint's gcodeAnalysis.
    await host.waitFor("/api/v1/files/torus.gcode", (f: any) => f.analysis.state === "done");
    const result = await (await host.api("/api/v1/files/torus.gcode/analysis")).json();
    const list = await json("/api/files");
    expect(list.headers.get("etag")).toMatch(/^"[0-9a-f]{40}"$/);
    same(list.body, "api_files_after_upload");
    const entry = list.body.files[0];
    expect(entry.gcodeAnalysis).toEqual(gcodeAnalysis(result));
    expect(entry.gcodeAnalysis.estimatedPrintTime).toBeGreaterThan(60);
    // The stored content hash (OctoPrint's is a SHA-1: clients only compare it).
    expect(entry.hash).toBe(new Bun.CryptoHasher("sha256").update(await Bun.file(TORUS).arrayBuffer()).digest("hex"));
    const again = await host.api("/api/files", { headers: { "if-none-match": list.headers.get("etag")! } });
    expect(again.status).toBe(304);
    same((await json("/api/files/local/torus.gcode")).body, "api_files_local_moves20k");
    same((await json("/api/printerprofiles")).body, "api_printerprofiles", { dynamic: ["$.profiles"] });
    const settings = (await json("/api/settings")).body;
    const ref = fixture("api_settings");
    for (const key of Object.keys(settings)) expect(Object.keys(ref)).toContain(key);
    for (const part of ["feature", "gcodeAnalysis", "appearance", "api", "accessControl", "devel", "slicing", "system"]) {
      expect({ part, diff: shapeDiff(settings[part], ref[part]) }).toEqual({ part, diff: [] });
    }
    expect(typeof settings.webcam.streamUrl).toBe("string");
    expect(settings.feature.sdSupport).toBe(true);
  });

  test("a file entry has gcodeAnalysis once analysed, and not before (as in OctoPrint)", () => {
    const ref = fixture("api_files_local_moves20k");
    const file = { path: "moves20k.gcode", name: "moves20k.gcode", size: 660000, date: 1795292260000, sha256: "0".repeat(64) };
    const refs = { api: "http://h", downloads: "http://h" };
    const entry = fileEntry(file, refs, { user: "admin", analysis: ref.gcodeAnalysis });
    expect(shapeDiff(entry, ref)).toEqual([]);
    expect(entry.gcodeAnalysis).toEqual(ref.gcodeAnalysis);
    expect("gcodeAnalysis" in fileEntry(file, refs, { user: "admin", analysis: undefined })).toBe(false);
  });

  test("printing, paused, cancelled", async () => {
    expect((await host.post("/api/files/local/torus.gcode", { command: "select", print: true })).status).toBe(204);
    const printing = await host.waitFor("/api/job", (j: any) => j.state === "Printing" && j.progress.completion > 0);
    same(printing, "api_job_printing");
    expect(printing.job.user).toBe("admin");
    // The analysis gives the estimate, and the time left from the planner's timeline at the file position.
    const analysed = (await (await host.api("/api/v1/files/torus.gcode/analysis")).json()).estimatedTime;
    expect(printing.job.estimatedPrintTime).toBe(analysed);
    expect(printing.job.filament.tool0.length).toBeGreaterThan(0);
    // Our estimate's origin in OctoPrint's words (the analysis before the printer's pace is known).
    expect(["analysis", "estimate"]).toContain(printing.progress.printTimeLeftOrigin);
    expect(printing.progress.printTimeLeft).toBeLessThan(analysed);
    same((await json("/api/printer")).body, "api_printer_virtual_printing", HEATERS);
    expect((await json("/api/printer")).body.state.flags).toMatchObject({ printing: true, ready: false, operational: true });
    same((await json("/api/connection")).body, "api_connection_printing");
    expect((await host.post("/api/job", { command: "pause", action: "pause" })).status).toBe(204);
    const paused = await host.waitFor("/api/job", (j: any) => j.state === "Paused");
    same(paused, "api_job_virtual_paused");
    expect((await host.post("/api/job", { command: "pause", action: "resume" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Printing");
    expect((await host.post("/api/job", { command: "cancel" })).status).toBe(204);
    const cancelled = await host.waitFor("/api/job", (j: any) => j.state === "Operational");
    same(cancelled, "api_job_virtual_after_cancel");
    expect(cancelled.progress.completion).toBeNull();
    expect(cancelled.job.file.name).toBe("torus.gcode");
  }, 60_000);

  test("disconnected: connection closed, printer 409, job offline", async () => {
    expect((await host.post("/api/connection", { command: "disconnect" })).status).toBe(204);
    await host.waitFor("/api/connection", (c: any) => c.current.state === "Closed");
    same((await json("/api/connection")).body, "api_connection_closed");
    const printer = await host.api("/api/printer");
    expect(printer.status).toBe(index.api_printer_closed_409.status);
    expect(await printer.json()).toEqual(fixture("api_printer_closed_409"));
    const job = (await json("/api/job")).body;
    same(job, "api_job_closed");
    expect(job.state).toBe("Offline");
    expect((await host.post("/api/connection", { command: "connect" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Operational");
  }, 30_000);

  test("access, system, timelapse, app keys", async () => {
    same((await json("/api/access/users")).body, "api_access_users");
    same((await json("/api/users")).body, "api_access_users");
    same((await json("/api/access/groups")).body, "api_access_groups");
    same((await json("/api/access/permissions")).body, "api_access_permissions", { skip: ["$.permissions[].plugin"] });
    same((await json("/api/system/commands")).body, "api_system_commands");
    same((await json("/api/timelapse")).body, "api_timelapse");
    same((await json("/api/plugin/appkeys")).body, "api_plugin_appkeys");
    const probe = await host.anonymous("/plugin/appkeys/probe");
    expect(probe.status).toBe(index.plugin_appkeys_probe.status);
    const req = await host.anonymous("/plugin/appkeys/request", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ app: "Shape test", user: "admin" }) });
    const reqRef = fixture("plugin_appkeys_request_POST");
    expect(req.status).toBe(reqRef.status);
    const body = await req.json();
    expect(shapeDiff(body, reqRef.body)).toEqual([]);
    expect(req.headers.get("location")).toBe(`${host.url}/plugin/appkeys/request/${body.app_token}`);
    const poll = await host.anonymous(`/plugin/appkeys/request/${body.app_token}`);
    const pollRef = fixture("plugin_appkeys_request_GET_pending");
    expect(poll.status).toBe(pollRef.status);
    expect(await poll.json()).toEqual(pollRef.body);
  });

  test("the push socket's first messages after auth", async () => {
    const login = await (await host.post("/api/login", { passive: true })).json();
    const ws = new WebSocket(`${host.url.replace("http", "ws")}/sockjs/websocket`);
    const messages: any[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.onmessage = (e) => {
        messages.push(JSON.parse(String(e.data)));
        if (messages.length === 1) ws.send(JSON.stringify({ auth: `admin:${login.session}` }));
        if (messages.filter((m) => m.current).length >= 1) resolve();
      };
      ws.onerror = () => reject(new Error("socket failed"));
      setTimeout(() => reject(new Error(`no current in time: ${JSON.stringify(messages.map((m) => Object.keys(m)[0]))}`)), 10_000);
    });
    ws.close();
    const ref = fixture("ws_first5_after_auth_idle");
    const refBefore = ref.messages_before_auth[0].json ?? JSON.parse(ref.messages_before_auth[0].raw);
    const refAfter = ref.first_messages_after_auth.map((m: any) => m.json ?? JSON.parse(m.raw));
    // A file is selected by now (the print above), as in the capture made during a print.
    const withFile = fixture("ws_first5_after_auth_virtual_printing").first_messages_after_auth.map((m: any) => m.json ?? JSON.parse(m.raw));
    expect(shapeDiff(messages[0], refBefore, { skip: ["$.connected.permissions[].plugin"] })).toEqual([]);
    expect(messages.slice(1, 4).map((m) => Object.keys(m)[0])).toEqual(["history", "timelapse", "event"]);
    expect(shapeDiff(messages[1], withFile[0], { skip: ["$.history.temps[]"] })).toEqual([]);
    expect(messages[2]).toEqual(refAfter[1]);
    expect(shapeDiff(messages[3], refAfter[2])).toEqual([]);
    expect(messages[3].event).toEqual({ type: "ClientAuthed", payload: { username: "admin", remoteAddress: "127.0.0.1" } });
    const current = messages.find((m) => m.current);
    expect(shapeDiff(current, withFile[3], { skip: ["$.current.temps[]"] })).toEqual([]);
  }, 20_000);
});
