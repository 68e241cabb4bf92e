/**
 * Replays of the request sequences real clients make (octoprint-compat.md §2.3), against a real
 * host with the virtual printer: PrusaSlicer, Cura (with the app-keys flow) and FDM Monster
 * (passive login, users, polling and the push socket during a print).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN, readyHost, startTestHost, type TestHost } from "../helpers/host.ts";
import { login } from "../helpers/session.ts";
import { fixture, shapeDiff } from "../helpers/shape.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

describe("PrusaSlicer: test, upload and print", () => {
  let host: TestHost;
  beforeAll(async () => {
    ({ host } = await readyHost());
  }, 30_000);
  afterAll(() => host.close());

  test("an upload-print key tests the host, uploads with print=true and the print runs to the end", async () => {
    const { key } = (await (await host.post("/api/v1/apikeys", { name: "PrusaSlicer", scope: "upload-print" })).json()) as { key: string };
    const headers = { "X-Api-Key": key };
    // OctoPrint::test(): GET /api/version, needs "api" and a text starting with "OctoPrint".
    const version = await (await host.anonymous("/api/version", { headers })).json();
    expect(version.api).toBeString();
    expect(version.text.startsWith("OctoPrint")).toBe(true);
    // OctoPrint::upload(): multipart print, path, file.
    const form = new FormData();
    form.append("print", "true");
    form.append("path", "prusaslicer");
    form.append("file", Bun.file(TORUS), "torus_0.2mm_PLA.gcode");
    const up = await host.anonymous("/api/files/local", { method: "POST", headers, body: form });
    expect(up.status).toBe(201);
    const body = await up.json();
    expect(body).toMatchObject({ done: true, effectivePrint: true, effectiveSelect: true, files: { local: { path: "prusaslicer/torus_0.2mm_PLA.gcode", origin: "local" } } });
    const done = await host.waitFor("/api/job", (j: any) => j.state === "Operational" && j.progress.completion === 100, 60_000);
    expect(shapeDiff(done, fixture("api_job_after_print"))).toEqual([]);
    expect(done.job.file.path).toBe("prusaslicer/torus_0.2mm_PLA.gcode");
    expect(done.job.user).toBe(ADMIN.username);
    // The key's scope stops at what it is for.
    expect((await host.anonymous("/api/files/local/prusaslicer/torus_0.2mm_PLA.gcode", { method: "DELETE", headers })).status).toBe(403);
    expect((await host.anonymous("/api/printer/command", { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: '{"command":"M104 S200"}' })).status).toBe(403);
  }, 60_000);

  test("an upload-only key uploads; print=true is ignored, not an error", async () => {
    const { key } = (await (await host.post("/api/v1/apikeys", { name: "slicer", scope: "upload-only" })).json()) as { key: string };
    const form = new FormData();
    form.append("print", "true");
    form.append("file", new Blob(["G28\n"]), "small.gcode");
    const up = await host.anonymous("/api/files/local", { method: "POST", headers: { "X-Api-Key": key }, body: form });
    expect(up.status).toBe(201);
    expect(await up.json()).toMatchObject({ effectivePrint: false, effectiveSelect: false });
  });
});

describe("Cura: app keys, settings, upload, select, print, poll", () => {
  let host: TestHost;
  beforeAll(async () => {
    ({ host } = await readyHost({ virtual: { timeScale: 20 } }));
  }, 30_000);
  afterAll(() => host.close());

  test("the whole sequence, with the user granting access in the browser", async () => {
    // Discovery done, the plugin probes and asks for a key.
    expect((await host.anonymous("/plugin/appkeys/probe")).status).toBe(204);
    const req = await host.anonymous("/plugin/appkeys/request", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ app: "Cura", user: ADMIN.username }) });
    expect(req.status).toBe(201);
    const { auth_dialog } = await req.json();
    const location = req.headers.get("location")!;
    const poll = () => fetch(location);
    expect((await poll()).status).toBe(202);
    // The user, logged in, opens the dialog and allows it.
    const s = await login(host);
    const dialog = await host.anonymous(new URL(auth_dialog).pathname, { headers: { cookie: s.cookie } });
    expect(dialog.status).toBe(200);
    const page = await dialog.text();
    expect(page).toContain("Cura");
    const userToken = /\/plugin\/appkeys\/decision\/([\w-]+)/.exec(page)![1]!;
    const decide = await host.anonymous(`/plugin/appkeys/decision/${userToken}`, {
      method: "POST",
      headers: { cookie: s.cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: s.csrf, decision: "allow", scope: "operator", printer: "" }),
    });
    expect(decide.status).toBe(200);
    const granted = await poll();
    expect(granted.status).toBe(200);
    const { api_key } = await granted.json();
    expect(api_key).toMatch(/^[\w-]{43}$/);
    expect((await poll()).status).toBe(404); // handed over once
    const h = { "X-Api-Key": api_key };
    const get = async (path: string) => (await host.anonymous(path, { headers: h })).json();

    // What the plugin reads.
    const settings = await get("/api/settings");
    expect(typeof settings.feature.sdSupport).toBe("boolean");
    expect(typeof settings.webcam.streamUrl).toBe("string");
    expect(settings.gcodeAnalysis.runAt).toBe("idle");
    expect(settings.plugins).toBeObject();
    expect((await get("/api/version")).text).toStartWith("OctoPrint");
    const me = await (await host.anonymous("/api/login", { method: "POST", headers: { ...h, "content-type": "application/json" }, body: '{"passive":true}' })).json();
    expect(me.name).toBe(ADMIN.username);
    expect(Object.keys((await get("/api/printerprofiles")).profiles)).toEqual(["_default"]);
    expect((await get("/api/printer")).state.flags.ready).toBe(true);
    expect((await get("/api/job")).state).toBe("Operational");

    // Upload with select (Cura waits for analysis before printing), then select+print.
    const form = new FormData();
    form.append("select", "true");
    form.append("print", "false");
    form.append("path", "");
    form.append("file", Bun.file(TORUS), "UM_torus.gcode");
    const up = await host.anonymous("/api/files/local", { method: "POST", headers: h, body: form });
    expect(up.status).toBe(201);
    expect(await up.json()).toMatchObject({ effectiveSelect: true, effectivePrint: false });
    expect((await get("/api/files/local/UM_torus.gcode")).name).toBe("UM_torus.gcode");
    expect((await get("/api/job")).job.file.name).toBe("UM_torus.gcode");
    const print = await host.anonymous("/api/files/local/UM_torus.gcode", { method: "POST", headers: { ...h, "content-type": "application/json" }, body: '{"command":"select","print":true}' });
    expect(print.status).toBe(204);
    const printing = await host.waitFor("/api/job", (j: any) => j.state === "Printing" && j.progress.completion > 0);
    expect(printing.job.file.path).toBe("UM_torus.gcode");
    // Cura's controls: pause, resume, cancel through /api/job.
    const job = (command: object) => host.anonymous("/api/job", { method: "POST", headers: { ...h, "content-type": "application/json" }, body: JSON.stringify(command) });
    expect((await job({ command: "pause", action: "pause" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Paused");
    expect((await job({ command: "pause", action: "resume" })).status).toBe(204);
    expect((await job({ command: "cancel" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Operational");
    expect((await job({ command: "cancel" })).status).toBe(409);
  }, 60_000);

  test("a denied request ends with 404 for the app", async () => {
    const req = await (await host.anonymous("/plugin/appkeys/request", { method: "POST", headers: { "content-type": "application/json" }, body: '{"app":"Sneaky"}' })).json();
    const s = await login(host);
    const page = await (await host.anonymous(`/plugin/appkeys/auth/${req.app_token}`, { headers: { cookie: s.cookie } })).text();
    const userToken = /\/plugin\/appkeys\/decision\/([\w-]+)/.exec(page)![1]!;
    await host.anonymous(`/plugin/appkeys/decision/${userToken}`, { method: "POST", headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" }, body: '{"decision":false}' });
    expect((await host.anonymous(`/plugin/appkeys/request/${req.app_token}`)).status).toBe(404);
  });
});

describe("app keys: a request naming a user is that user's to decide", () => {
  let host: TestHost;
  const BOB = { username: "bob", password: "correct horse battery staple" };
  const requestKey = async (body: object) => (await (await host.anonymous("/plugin/appkeys/request", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as { app_token: string; auth_dialog: string };
  const decide = (s: { cookie: string; csrf: string }, token: string, decision: string) =>
    host.anonymous(`/plugin/appkeys/decision/${token}`, { method: "POST", headers: { cookie: s.cookie, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ _csrf: s.csrf, decision, scope: "full", printer: "" }) });
  beforeAll(async () => {
    host = await startTestHost();
    expect((await host.post("/api/v1/users", { username: BOB.username, password: BOB.password, group: "users" })).status).toBe(201);
  }, 30_000);
  afterAll(() => host.close());

  test("another user (even an admin) can neither grant nor deny it, nor see it; the named user can", async () => {
    const req = await requestKey({ app: "Bob's Cura", user: BOB.username });
    const bob = await login(host, BOB.username, BOB.password);
    const admin = await login(host);
    // The named user sees and opens it; the decision form carries the user token.
    expect(await (await host.anonymous("/account", { headers: { cookie: bob.cookie } })).text()).toContain("Bob&#39;s Cura");
    const bobsPage = await (await host.anonymous(new URL(req.auth_dialog).pathname, { headers: { cookie: bob.cookie } })).text();
    const userToken = /\/plugin\/appkeys\/decision\/([\w-]+)/.exec(bobsPage)![1]!;
    // The admin does not see it listed, and its dialog says whose it is.
    expect(await (await host.anonymous("/account", { headers: { cookie: admin.cookie } })).text()).not.toContain("Bob&#39;s Cura");
    const adminsPage = await host.anonymous(new URL(req.auth_dialog).pathname, { headers: { cookie: admin.cookie } });
    expect(adminsPage.status).toBe(403);
    expect(await adminsPage.text()).not.toContain(userToken);
    // With the user token anyway: refused, for a grant and for a denial; the app still waits.
    for (const decision of ["allow", "deny"]) expect((await decide(admin, userToken, decision)).status).toBe(403);
    const json = await host.api(`/plugin/appkeys/decision/${userToken}`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"decision":true}' });
    expect(json.status).toBe(403);
    expect((await json.json()).error.code).toBe("appkeys_other_user");
    expect((await host.api("/api/plugin/appkeys")).status).toBe(200);
    expect(Object.keys((await (await host.api("/api/plugin/appkeys")).json()).pending)).toEqual([]);
    expect((await host.anonymous(`/plugin/appkeys/request/${req.app_token}`)).status).toBe(202);
    // Bob decides: the key is Bob's.
    expect((await decide(bob, userToken, "allow")).status).toBe(200);
    const { api_key } = await (await host.anonymous(`/plugin/appkeys/request/${req.app_token}`)).json();
    const me = await (await host.anonymous("/api/currentuser", { headers: { "X-Api-Key": api_key } })).json();
    expect(me.name).toBe(BOB.username);
  }, 30_000);

  test("a request naming nobody is anyone's who may grant, and listed for them", async () => {
    const req = await requestKey({ app: "Anyone's app" });
    const bob = await login(host, BOB.username, BOB.password);
    const pending = (await (await host.api("/api/plugin/appkeys")).json()).pending;
    expect(Object.values(pending).map((p: any) => p.app_id)).toEqual(["Anyone's app"]);
    const page = await (await host.anonymous(new URL(req.auth_dialog).pathname, { headers: { cookie: bob.cookie } })).text();
    const userToken = /\/plugin\/appkeys\/decision\/([\w-]+)/.exec(page)![1]!;
    expect((await decide(bob, userToken, "deny")).status).toBe(200);
    expect((await host.anonymous(`/plugin/appkeys/request/${req.app_token}`)).status).toBe(404);
  }, 30_000);
});

describe("FDM Monster: passive login, users, polling and the push socket during a print", () => {
  let host: TestHost;
  beforeAll(async () => {
    ({ host } = await readyHost({ virtual: { timeScale: 20 } }));
  }, 30_000);
  afterAll(() => host.close());

  test("auth and throttle on the socket, then current messages with the job flags while printing", async () => {
    const h = { "X-Api-Key": host.apiKey, "content-type": "application/json" };
    const get = async (path: string) => (await host.anonymous(path, { headers: h })).json();
    // setupSocketSession(): POST /api/login?passive=true with {}, then /api/users for the admin's name.
    const session = await (await host.anonymous("/api/login?passive=true", { method: "POST", headers: h, body: "{}" })).json();
    expect(session.name).toBe(ADMIN.username);
    expect(session.needs.group[0]).not.toBe("guests");
    const users = await get("/api/users");
    const admin = users.users.find((u: any) => u.admin).name;
    expect((await get("/api/currentuser")).name).toBe(ADMIN.username);
    expect((await get("/api/system/info")).systeminfo["octoprint.version"]).toBeString();
    expect((await get("/api/system/commands")).core).toEqual([]);
    // Fallback polling: /api/printer (with FDM Monster's literal "limit=limit") and /api/job.
    const printer = await host.anonymous("/api/printer?history=false&limit=limit&exclude=sd", { headers: h });
    expect(printer.status).toBe(200);
    expect((await printer.json()).state.flags.operational).toBe(true);
    expect((await get("/api/job")).state).toBe("Operational");

    const ws = new WebSocket(`${host.url.replace("http", "ws")}/sockjs/websocket`);
    const currents: { at: number; msg: any }[] = [];
    const all: any[] = [];
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      all.push(msg);
      if (msg.current) currents.push({ at: Date.now(), msg: msg.current });
    };
    await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
    ws.send(JSON.stringify({ auth: `${admin}:${session.session}` }));
    ws.send(JSON.stringify({ throttle: 2 }));

    const form = new FormData();
    form.append("file", Bun.file(TORUS), "farm.gcode");
    expect((await host.anonymous("/api/files/local", { method: "POST", headers: { "X-Api-Key": host.apiKey }, body: form })).status).toBe(201);
    expect((await host.anonymous("/api/files/local/farm.gcode", { method: "POST", headers: h, body: '{"command":"select","print":true}' })).status).toBe(204);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && currents.filter((c) => c.msg.state.flags.printing).length < 4) await Bun.sleep(50);
    const printing = currents.filter((c) => c.msg.state.flags.printing);
    expect(printing.length).toBeGreaterThanOrEqual(4);
    const last = printing.at(-1)!.msg;
    expect(last.state.text).toBe("Printing");
    expect(last.job.file.name).toBe("farm.gcode");
    expect(last.progress.completion).toBeGreaterThan(0);
    expect(last.busyFiles).toEqual([{ origin: "local", path: "farm.gcode" }]);
    // Terminal lines since the previous message, in OctoPrint's "Send: …" / "Recv: …" form.
    const logs = printing.flatMap((c) => c.msg.logs as string[]);
    expect(logs.some((l) => l.startsWith("Send: N"))).toBe(true);
    expect(logs.some((l) => l.startsWith("Recv: "))).toBe(true);
    // throttle 2: at most one current per second.
    const gaps = printing.slice(1).map((c, i) => c.at - printing[i]!.at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(900);
    expect(all.some((m) => m.event?.type === "PrintStarted" && m.event.payload.path === "farm.gcode")).toBe(true);
    // FDM Monster cancels through the REST API.
    expect((await host.anonymous("/api/job", { method: "POST", headers: h, body: '{"command":"cancel"}' })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Operational");
    ws.close();
  }, 60_000);
});
