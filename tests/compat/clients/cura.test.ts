/**
 * Cura's OctoPrint plugin, replayed as it speaks.
 * Client source read: fieldOfView/Cura-OctoPrintPlugin OctoPrintOutputDevice.py (connect,
 * getAdditionalData, _sendPrintJob, _onUploadFinished, _selectAndPrint, _onRequestFinished,
 * parseSettingsData), DiscoverOctoPrintAction.py (probeAppKeySupport, requestApiKey, _pollApiKey,
 * testApiKey), WebcamsModel.py (deserialise), OctoPrintOutputController.py (moveHead).
 * What it relies on:
 * - app keys: GET /plugin/appkeys/probe → 204; POST /plugin/appkeys/request {"app":"Cura"} → 201/202
 *   with `auth_dialog`; then GET on the Location header (Content-Type header sent empty) until
 *   200 `{api_key}` (202 = keep polling, 404 = denied).
 * - GET /api/settings (200 = key accepted): `feature.sdSupport`, `webcam.streamUrl` (and, when
 *   `rotate90` is present, `flipH`/`flipV` are read without a default), `gcodeAnalysis.runAt`,
 *   `plugins` keys.
 * - GET /api/version `server`; POST /api/login {"passive":true} `name`; GET /api/printerprofiles:
 *   the profile with `current`, its `name`, `model`, `axes.{x,y,z,e}.{speed,inverted}`.
 * - polling GET /api/printer (`temperature.toolN/bed.{actual,target}`, `state.flags.*`; 409 = not
 *   operational) and GET /api/job (`state` text, `progress.{printTime,printTimeLeft,completion}`,
 *   `job.file.name` read even with no job).
 * - upload: multipart parts `path`, `file`, then `select`/`print` after the file (each part with
 *   its own Content-Type), to /api/files/local or /api/files/sdcard ("store on SD", offered when
 *   `feature.sdSupport`); then the Location header, split at "api/", is the endpoint it POSTs
 *   {"command":"select","print":true} to.
 * - printer/command {"commands":[...]} (jog: G91, G0 X Y Z F, G90), job {"command":...},
 *   connection {"command":"connect"}.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ADMIN, readyHost, type TestHost } from "../../helpers/host.ts";
import { layeredGcode } from "../../helpers/gcode.ts";
import { multipart } from "../../helpers/multipart.ts";
import { login } from "../../helpers/session.ts";
import { fixture, shapeDiff } from "../../helpers/shape.ts";

let host: TestHost;
let key = "";
const gcode = (layers: number) => layeredGcode({ layers, objects: [{ name: "UM", x: 30, y: 30 }], header: [";FLAVOR:Marlin", ";Generated with Cura_SteamEngine 5.7.0"] });
const UA = { "User-Agent": "Cura/5.7.0 OctoPrintPlugin/3.7.3" };
/** OctoPrintOutputDevice._createEmptyRequest: X-Api-Key, the user agent, JSON. */
const cura = (path: string, init: RequestInit = {}) =>
  fetch(`${host.url}/${path}`, { ...init, headers: { "X-Api-Key": key, ...UA, "content-type": "application/json", ...(init.headers as Record<string, string>) } });
const post = (path: string, body: unknown) => cura(`api/${path}`, { method: "POST", body: JSON.stringify(body) });
/** _sendPrintJob(): parts path, file, then select/print (when they ride on the upload), each with its Content-Type. */
const sendPrintJob = (destination: "local" | "sdcard", folder: string, name: string, layers: number, selectAndPrint: boolean) => {
  const text = (n: string, value: string) => ({ name: n, value, type: "text/plain" });
  const { body, contentType } = multipart([
    text("path", folder),
    { name: "file", value: gcode(layers), filename: name, type: "application/octet-stream" },
    ...(selectAndPrint ? [text("select", "true"), text("print", "true")] : []),
  ]);
  return cura(`api/files/${destination}`, { method: "POST", headers: { "content-type": contentType }, body });
};

beforeAll(async () => {
  ({ host } = await readyHost({ virtual: { timeScale: 20 } }));
}, 30_000);
afterAll(() => host.close());

describe("discovery and the app key", () => {
  test("probe, request without a user, poll the Location until the key comes", async () => {
    expect((await fetch(`${host.url}/plugin/appkeys/probe`, { headers: UA })).status).toBe(204);
    const req = await fetch(`${host.url}/plugin/appkeys/request`, { method: "POST", headers: { ...UA, "content-type": "application/json" }, body: JSON.stringify({ app: "Cura" }) });
    expect([201, 202]).toContain(req.status);
    const { auth_dialog } = await req.json();
    expect(auth_dialog).toStartWith("http");
    const location = req.headers.get("location")!;
    expect(location).toContain("/plugin/appkeys/request/");
    const poll = () => fetch(location, { headers: { ...UA, "content-type": "" } });
    expect((await poll()).status).toBe(202);
    const s = await login(host);
    const page = await (await host.anonymous(new URL(auth_dialog).pathname + new URL(auth_dialog).search, { headers: { cookie: s.cookie } })).text();
    const userToken = /\/plugin\/appkeys\/decision\/([\w-]+)/.exec(page)![1]!;
    const decided = await host.anonymous(`/plugin/appkeys/decision/${userToken}`, { method: "POST", headers: { cookie: s.cookie, "x-csrf-token": s.csrf, "content-type": "application/json" }, body: '{"decision":true}' });
    expect(decided.status).toBe(204);
    const granted = await poll();
    expect(granted.status).toBe(200);
    key = (await granted.json()).api_key;
    expect(typeof key).toBe("string");
  });

  test("testApiKey: /api/settings with what parseSettingsData and WebcamsModel read", async () => {
    const res = await cura("api/settings");
    expect(res.status).toBe(200);
    const settings = await res.json();
    expect(typeof settings.feature.sdSupport).toBe("boolean");
    expect(typeof settings.webcam.streamUrl).toBe("string");
    // rotate90 present → flipH and flipV are read without a default.
    if ("rotate90" in settings.webcam) for (const k of ["flipH", "flipV"]) expect(typeof settings.webcam[k]).toBe("boolean");
    expect(["never", "idle", "always"]).toContain(settings.gcodeAnalysis.runAt);
    expect(settings.plugins).toBeObject();
    // No PrintTimeGenius / UltimakerFormatPackage advertised: Cura sends plain G-code and does not wait for an analysis we would never report.
    expect(settings.plugins.PrintTimeGenius).toBeUndefined();
    expect(settings.plugins.UltimakerFormatPackage).toBeUndefined();
    // A bad key is not a 200 (Cura: "not accepted").
    expect((await fetch(`${host.url}/api/settings`, { headers: { "X-Api-Key": "nope" } })).status).not.toBe(200);
  });

  test("getAdditionalData: version, passive login, printer profiles", async () => {
    expect(typeof (await (await cura("api/version")).json()).server).toBe("string");
    const me = await post("login", { passive: true });
    expect(me.status).toBe(200);
    expect((await me.json()).name).toBe(ADMIN.username);
    const profiles = (await (await cura("api/printerprofiles")).json()).profiles;
    const current = Object.values(profiles).find((p: any) => p.current) as any;
    expect(current).toBeDefined();
    expect(typeof current.name).toBe("string");
    expect(typeof current.model).toBe("string");
    for (const axis of ["x", "y", "z", "e"]) {
      expect(typeof current.axes[axis].speed).toBe("number");
      expect(typeof current.axes[axis].inverted).toBe("boolean");
    }
  });
});

describe("monitoring and printing", () => {
  test("polling /api/printer and /api/job: the fields Cura reads", async () => {
    // Until the first temperature report there is no tool0 yet; Cura counts extruders on a later poll.
    const printer = await host.waitFor("/api/printer", (p: any) => p.temperature?.tool0 !== undefined);
    expect(typeof printer.temperature.tool0.actual).toBe("number");
    expect(typeof printer.temperature.tool0.target).toBe("number");
    expect(typeof printer.temperature.bed.actual).toBe("number");
    for (const f of ["error", "closedOrError", "paused", "pausing", "printing", "cancelling", "ready", "operational"]) expect(typeof printer.state.flags[f]).toBe("boolean");
    expect(shapeDiff(printer, fixture("api_printer_operational_idle"), { dynamic: ["$.temperature"] })).toEqual([]);
    const job = await (await cura("api/job")).json();
    expect(job.state).toBe("Operational");
    expect("name" in job.job.file).toBe(true); // read even with no job
    for (const f of ["printTime", "printTimeLeft", "completion"]) expect(f in job.progress).toBe(true);
  });

  test("upload with select and print after the file part; the Location is where it selects", async () => {
    // With "wait for analysis" off: select+print ride on the upload.
    const up = await sendPrintJob("local", "cura", "UM3_cube.gcode", 3, true);
    expect(up.status).toBe(201);
    expect(await up.json()).toMatchObject({ effectiveSelect: true, effectivePrint: true });
    const endPoint = up.headers.get("location")!.split("api/")[1];
    expect(endPoint).toBe("files/local/cura/UM3_cube.gcode");
    const printing = await host.waitFor("/api/job", (j: any) => j.state === "Printing");
    expect(printing.job.file.name).toBe("UM3_cube.gcode");
    expect(typeof printing.progress.printTime === "number" || printing.progress.printTime === null).toBe(true);
    // Pause / resume / cancel from the monitor stage.
    expect((await post("job", { command: "pause" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Paused");
    expect((await post("job", { command: "pause" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Printing" || j.state === "Operational");
    const cancel = await post("job", { command: "cancel" });
    expect([204, 409]).toContain(cancel.status); // 409 when the short print already ended
    await host.waitFor("/api/job", (j: any) => j.state === "Operational");
  }, 30_000);

  test("upload without select, then _selectAndPrint on the Location's endpoint (a name with spaces)", async () => {
    const up = await sendPrintJob("local", "", "my part v2.gcode", 2, false);
    expect(up.status).toBe(201);
    // Qt's QUrl.toString() shows the path decoded; QUrl(api_url + endpoint) encodes it again.
    const endPoint = decodeURIComponent(up.headers.get("location")!.split("api/")[1]!);
    const select = await cura(`api/${encodeURI(endPoint)}`, { method: "POST", body: JSON.stringify({ command: "select", print: true }) });
    expect(select.status).toBe(204);
    const done = await host.waitFor("/api/job", (j: any) => j.job.file.name === "my part v2.gcode" && j.state === "Operational" && j.progress.completion === 100, 30_000);
    expect(done.job.file.path).toBe("my part v2.gcode");
  }, 40_000);

  test("jog and preheat through printer/command lists, as the output controller sends them", async () => {
    expect((await post("printer/command", { commands: ["G91", "G0 X10 Y0 Z0 F3000", "G90"] })).status).toBe(204);
    expect((await post("printer/command", { commands: ["M140 S60"] })).status).toBe(204);
    await host.waitFor("/api/printer", (p: any) => p.temperature.bed.target === 60);
  });

  test("store on SD: upload to /api/files/sdcard with select+print copies to the card, then prints from it", async () => {
    const printer = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
    await host.waitFor(`/api/v1/printers/${printer}`, (p: any) => p.sd.writable);
    const up = await sendPrintJob("sdcard", "", "sdjob.gcode", 2, true);
    expect(up.status).toBe(201);
    const res = await up.json();
    expect(res.done).toBe(false);
    expect(res.files.local.path).toBe("sdjob.gcode");
    expect(res.files.sdcard.origin).toBe("sdcard");
    expect(up.headers.get("location")).toContain("/api/files/sdcard/");
    const card = res.files.sdcard.name;
    const printing = await host.waitFor("/api/job", (j: any) => j.job.file.origin === "sdcard" && (j.state === "Printing" || j.progress.completion === 100), 30_000);
    // Written under the long name, listed by the card under its 8.3 one.
    expect([card, "SDJOB.GCO"]).toContain(printing.job.file.name);
    await host.waitFor("/api/job", (j: any) => j.state === "Operational", 30_000);
  }, 40_000);

  test("not operational: /api/printer is a 409 (Cura: offline), uploads to the card are refused with a 409, connect brings it back", async () => {
    expect((await post("connection", { command: "disconnect" })).status).toBe(204);
    await host.waitFor("/api/connection", (c: any) => c.current.state === "Closed");
    const printer = await cura("api/printer");
    expect(printer.status).toBe(409);
    expect(await printer.json()).toEqual(fixture("api_printer_closed_409"));
    expect((await (await cura("api/job")).json()).state).toStartWith("Offline");
    expect((await sendPrintJob("sdcard", "", "late.gcode", 1, false)).status).toBe(409);
    expect((await post("connection", { command: "connect" })).status).toBe(204);
    await host.waitFor("/api/job", (j: any) => j.state === "Operational");
  }, 30_000);
});
