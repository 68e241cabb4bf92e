/**
 * A printer's profile and its machine limits: stored and merged through one schema; filled in
 * from the firmware's report when the profile has none (and only then); read and changed through
 * the native API; planned with by the analysis (the default printer's for stored analyses, a
 * printer's own for a job on it); the host-wide setting they replace is refused with a pointer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultLimits } from "../../src/analysis/limits.ts";
import { openDatabase } from "../../src/db/database.ts";
import { SettingsStore } from "../../src/db/settings.ts";
import { profileLimits, readProfile, updateProfile } from "../../src/printers/profile.ts";
import { layeredGcode } from "../helpers/gcode.ts";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { virtualPrinterReport } from "../helpers/limits.ts";

const d = defaultLimits();
const VIRTUAL_REPORT = virtualPrinterReport();

describe("the profile's machine limits in the settings", () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-profile-"));
  const db = openDatabase(dir);
  const store = new SettingsStore(db);
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("merge field by field, replace, remove; nothing stored when a value is not valid", () => {
    expect(profileLimits(readProfile(store, "p"))).toBeUndefined();
    expect(updateProfile(store, "p", { limits: { maxFeedrate: { z: 5 } } })).toBeNull();
    expect(updateProfile(store, "p", { limits: { maxFeedrate: { e: 25 }, printAcceleration: 800 } })).toBeNull();
    expect(readProfile(store, "p").limits).toEqual({ maxFeedrate: { z: 5, e: 25 }, printAcceleration: 800 });
    expect(updateProfile(store, "p", { limits: { maxJerk: { x: 8 } } }, "replace")).toBeNull();
    expect(readProfile(store, "p").limits).toEqual({ maxJerk: { x: 8 } });
    expect(updateProfile(store, "p", { limits: { maxFeedrate: { z: -1 } } })).toMatchObject({ path: "limits.maxFeedrate.z" });
    expect(updateProfile(store, "p", { limits: { maxFeedrate: { z: "fast" } } })).toMatchObject({ path: "limits.maxFeedrate.z" });
    expect(readProfile(store, "p").limits).toEqual({ maxJerk: { x: 8 } });
    // The rest of the profile is untouched by all this, and empty limits are no limits.
    expect(readProfile(store, "p").volume.width).toBe(200);
    expect(updateProfile(store, "p", { limits: {} }, "replace")).toBeNull();
    expect(readProfile(store, "p").limits).toBeUndefined();
    expect(updateProfile(store, "p", { limits: { maxFeedrate: { z: 5 } } })).toBeNull();
    expect(updateProfile(store, "p", { limits: null })).toBeNull();
    expect(readProfile(store, "p").limits).toBeUndefined();
  });

  test("a volume or extruder given as a list is refused, not accepted and ignored", () => {
    expect(updateProfile(store, "list", { volume: [300, 300, 300] })).toEqual({ path: "volume", message: "expected an object of named fields, got a list" });
    expect(updateProfile(store, "list", { extruder: [] })).toMatchObject({ path: "extruder" });
    expect(readProfile(store, "list").volume.width).toBe(200);
    expect(updateProfile(store, "list", { volume: { width: 300 } })).toBeNull();
    expect(readProfile(store, "list").volume.width).toBe(300);
  });
});

describe("machine limits through the host", () => {
  let host: TestHost;
  let id: string;
  let at: string;
  const json = (r: Response) => r.json() as Promise<any>;
  const patch = (path: string, body: unknown) => host.api(path, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const GCODE = layeredGcode({ objects: [{ name: "part", x: 60, y: 60, size: 30 }], layers: 20, loops: 2 });
  const analysis = async () => (await json(await host.api("/api/v1/files/part.gcode/analysis"))) as { printerLimits: unknown };

  beforeAll(async () => {
    // Real-time moves, so a print is still running when its re-planned estimate comes.
    host = await startTestHost({ virtual: { timeScale: 1 } });
    id = (await json(await host.api("/api/v1/printers"))).printers[0].id;
    at = `/api/v1/printers/${id}`;
    await host.waitFor(at, (p: any) => p.state === "operational" && p.limits !== null);
  }, 30_000);
  afterAll(() => host?.close());

  test("the firmware's report is in the status, and an empty profile takes it", async () => {
    expect((await json(await host.api(at))).limits).toEqual(VIRTUAL_REPORT);
    const profile = await host.waitFor(`${at}/profile`, (p: any) => p.profile.limits !== undefined);
    expect(profile).toEqual({ profile: expect.objectContaining({ name: "Default", limits: VIRTUAL_REPORT }), reportedLimits: VIRTUAL_REPORT });
  });

  test("PATCH merges limits, null removes them; bad values and unknown fields are refused with the reason", async () => {
    let r = await patch(`${at}/profile`, { limits: { maxFeedrate: { z: 8 } } });
    expect(r.status).toBe(200);
    expect((await json(r)).profile.limits.maxFeedrate).toEqual({ ...d.maxFeedrate, z: 8 });
    r = await patch(`${at}/profile`, { limits: { maxAcceleration: { x: -5 } } });
    expect(r.status).toBe(400);
    expect((await json(r)).error).toMatchObject({ code: "invalid_profile", message: expect.stringContaining("limits.maxAcceleration.x") });
    r = await patch(`${at}/profile`, { limts: { maxFeedrate: { z: 8 } } });
    expect(r.status).toBe(400);
    r = await patch(`${at}/profile`, { limits: null });
    expect((await json(r)).profile.limits).toBeUndefined();
    // With its own limits gone, the profile does not take the same report again by itself…
    await Bun.sleep(300);
    expect((await json(await host.api(`${at}/profile`))).profile.limits).toBeUndefined();
    // …but on request.
    r = await host.post(`${at}/profile/limits/from-printer`);
    expect(r.status).toBe(200);
    expect((await json(r)).profile.limits).toEqual(VIRTUAL_REPORT);
  });

  test("asking again reads the firmware's limits as they are now; a profile with its own keeps them", async () => {
    expect((await host.post(`${at}/commands`, { commands: ["M203 Z12"] })).status).toBe(200);
    const r = await host.post(`${at}/limits/query`);
    expect(r.status).toBe(202);
    await host.waitFor(at, (p: any) => p.limits?.maxFeedrate?.z === 12);
    expect((await json(await host.api(`${at}/profile`))).profile.limits.maxFeedrate.z).toBe(5);
    await host.post(`${at}/commands`, { commands: ["M203 Z5"] });
    await host.post(`${at}/limits/query`);
    await host.waitFor(at, (p: any) => p.limits?.maxFeedrate?.z === 5);
  });

  test("stored analyses are planned with the default printer's limits, and again when they change", async () => {
    expect((await upload(host, "part.gcode", GCODE)).status).toBe(201);
    await host.waitFor("/api/v1/files/part.gcode", (f: any) => f.analysis?.state === "done");
    expect((await analysis()).printerLimits).toEqual(VIRTUAL_REPORT);
    await patch(`${at}/profile`, { limits: { maxFeedrate: { z: 2 } } });
    const deadline = Date.now() + 20_000;
    while ((await analysis()).printerLimits && ((await analysis()).printerLimits as any).maxFeedrate.z !== 2 && Date.now() < deadline) await Bun.sleep(50);
    expect(((await analysis()).printerLimits as any).maxFeedrate.z).toBe(2);
  });

  test("a job on a printer with other limits is re-planned with its own", async () => {
    const created = await json(await host.post("/api/v1/printers", { name: "Second", transport: "virtual" }));
    const second = `/api/v1/printers/${created.id}`;
    await host.waitFor(`${second}/profile`, (p: any) => p.profile.limits !== undefined);
    await patch(`${second}/profile`, { limits: { maxFeedrate: { z: 3 } } });
    const own = (await json(await host.api(`${second}/profile`))).profile.limits;
    const sha256 = (await json(await host.api("/api/v1/files/part.gcode"))).sha256 as string;
    expect(host.analysis.planned(sha256, own)).toBeUndefined();
    expect((await host.post(`${second}/job`, { file: "part.gcode" })).status).toBe(200);
    const deadline = Date.now() + 20_000;
    while (!host.analysis.planned(sha256, own) && Date.now() < deadline) await Bun.sleep(25);
    expect(host.analysis.planned(sha256, own)?.printerLimits).toEqual(own);
    // The running job took it (the printer notes it in its terminal).
    await host.waitFor(`${second}/terminal`, (t: any) => t.lines.some((l: any) => l.text.includes("planned with this printer's machine limits")));
    // Stored analyses stay the default printer's.
    expect(((await analysis()).printerLimits as any).maxFeedrate.z).toBe(2);
    await host.post(`${second}/job/cancel`);
  }, 30_000);

  test("the host-wide analysis limits are gone: the setting points to the profile", async () => {
    const r = await host.api("/api/v1/analysis/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ limits: { maxFeedrate: { z: 5 } } }) });
    expect(r.status).toBe(400);
    expect(JSON.stringify(await json(r))).toContain("PATCH /api/v1/printers/<id>/profile");
    expect((await json(await host.api("/api/v1/analysis"))).settings).toEqual({ onlyWhenIdle: false });
  });

  test("the OctoPrint printer profile shows no limits (its shape is OctoPrint's)", async () => {
    const profiles = await json(await host.api("/api/printerprofiles"));
    expect(Object.keys(profiles.profiles._default)).not.toContain("limits");
  });
});
