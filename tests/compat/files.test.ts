/**
 * OctoPrint's file operations on Layerline's files folder: uploads with every form field,
 * folders, copy, move, delete, analyse — the same storage (and the same answers) as the native
 * API, with OctoPrint's status codes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readyHost, type TestHost } from "../helpers/host.ts";

const TORUS = new URL("../fixtures/ps25_ender3_torus_0.20normal_pla.gcode", import.meta.url).pathname;

let host: TestHost;

beforeAll(async () => {
  // Slow enough (50× real time) that the torus is still printing while we poke at it.
  ({ host } = await readyHost({ virtual: { timeScale: 50 } }));
}, 30_000);
afterAll(() => host.close());

const uploadForm = (fields: Record<string, string>, file?: [name: string, content: Blob | string]) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append("file", typeof file[1] === "string" ? new Blob([file[1]]) : file[1], file[0]);
  return host.api("/api/files/local", { method: "POST", body: form });
};
const command = (path: string, body: unknown) => host.post(`/api/files/local/${path}`, body);
const native = async (path: string) => (await host.api(`/api/v1/files/${path}`)).json();
const leftovers = () => readdirSync(join(host.dataDir, "files"), { recursive: true }).filter((f) => String(f).includes(".upload-"));

test("foldername creates a folder (existing ones are fine); names that look like files are refused", async () => {
  const made = await uploadForm({ foldername: "brackets", path: "parts" });
  expect(made.status).toBe(201);
  expect(made.headers.get("location")).toBe(`${host.url}/api/files/local/parts/brackets`);
  expect(await made.json()).toEqual({ folder: { name: "brackets", path: "parts/brackets", origin: "local", refs: { resource: `${host.url}/api/files/local/parts/brackets` } }, done: true });
  expect((await uploadForm({ foldername: "brackets", path: "parts" })).status).toBe(201);
  expect((await uploadForm({ foldername: "thing.gcode" })).status).toBe(409);
  expect((await uploadForm({ foldername: "../escape" })).status).toBe(400);
  // One storage: the native API sees the same folders.
  const listing = await (await host.api("/api/v1/files")).json();
  expect(listing.folders.map((f: { path: string }) => f.path)).toEqual(["parts", "parts/brackets"]);
  const tree = await (await host.api("/api/files")).json();
  expect(tree.files.find((e: any) => e.path === "parts")).toMatchObject({ type: "folder", children: [{ path: "parts/brackets", type: "folder" }] });
});

test("uploads: path, filename, noOverwrite (409), wrong type (415), bad userdata (400), no file (400); nothing half-written", async () => {
  const first = await uploadForm({ path: "parts", filename: "clip.gcode" }, ["original-name.gcode", "G28\n"]);
  expect(first.status).toBe(201);
  expect((await first.json()).files.local.path).toBe("parts/clip.gcode");
  expect((await uploadForm({ path: "parts", noOverwrite: "true" }, ["clip.gcode", "G1 X1\n"])).status).toBe(409);
  expect(await (await host.api("/api/v1/files/parts/clip.gcode/content")).text()).toBe("G28\n");
  expect((await uploadForm({ path: "parts" }, ["clip.gcode", "G1 X2\n"])).status).toBe(201);
  expect(await (await host.api("/api/v1/files/parts/clip.gcode/content")).text()).toBe("G1 X2\n");

  const wrongType = await uploadForm({}, ["model.stl", "solid x"]);
  expect(wrongType.status).toBe(415);
  expect(typeof (await wrongType.json()).error).toBe("string");
  const badUserdata = await uploadForm({ userdata: "{not json" }, ["userdata.gcode", "G28\n"]);
  expect(badUserdata.status).toBe(400);
  expect((await badUserdata.json()).error).toBe("userdata contains invalid JSON");
  expect((await host.api("/api/v1/files/userdata.gcode")).status).toBe(404);
  const noFile = await uploadForm({ select: "true" });
  expect(noFile.status).toBe(400);
  expect((await noFile.json()).error).toBe("No file included");
  expect(leftovers()).toEqual([]);
});

test("copy and move files and folders, with OctoPrint's answers; the hash is the stored sha256", async () => {
  const copy = await command("parts/clip.gcode", { command: "copy", destination: "parts/brackets" });
  expect(copy.status).toBe(201);
  expect(copy.headers.get("location")).toBe(`${host.url}/api/files/local/parts/brackets/clip.gcode`);
  expect(await copy.json()).toMatchObject({ origin: "local", name: "clip.gcode", path: "parts/brackets/clip.gcode" });
  const [a, b] = await Promise.all([host.api("/api/files/local/parts/clip.gcode"), host.api("/api/files/local/parts/brackets/clip.gcode")].map(async (r) => (await r).json()));
  expect(a.hash).toBe((await native("parts/clip.gcode")).sha256);
  expect(b.hash).toBe(a.hash);
  expect(b.user).toBe("admin"); // who uploaded it follows the copy

  expect((await command("parts/clip.gcode", { command: "copy", destination: "parts/brackets" })).status).toBe(409); // exists
  expect((await command("parts", { command: "move", destination: "parts/brackets" })).status).toBe(409); // into itself
  // A folder that does not exist is named as such (not taken for a new file name).
  for (const destination of ["nofolder/", "nofolder/clip.gcode"]) {
    const missing = await command("parts/clip.gcode", { command: "move", destination });
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toBe('There is no folder "nofolder" to move into');
  }

  // A folder moves with everything in it; to the top with an empty destination.
  const moved = await command("parts/brackets", { command: "move", destination: "" });
  expect(moved.status).toBe(201);
  expect((await moved.json()).path).toBe("brackets");
  expect((await native("brackets/clip.gcode")).path).toBe("brackets/clip.gcode");
  expect((await host.api("/api/files/local/parts/brackets")).status).toBe(404);
  const folder = await (await host.api("/api/files/local/brackets")).json();
  expect(folder).toMatchObject({ type: "folder", path: "brackets", size: 6, children: [{ path: "brackets/clip.gcode", user: "admin" }] });
});

test("analyse queues the file again; a file being printed cannot be deleted or moved; folders are deleted with their content", async () => {
  const up = await uploadForm({ path: "prints" }, ["torus.gcode", Bun.file(TORUS)]);
  expect(up.status).toBe(201);
  await host.waitFor("/api/v1/files/prints/torus.gcode", (f: any) => f.analysis.state === "done");
  expect((await command("prints/torus.gcode", { command: "analyse" })).status).toBe(204);
  await host.waitFor("/api/v1/files/prints/torus.gcode", (f: any) => f.analysis.state === "done");
  expect((await command("prints", { command: "analyse" })).status).toBe(400);

  expect((await command("prints/torus.gcode", { command: "select", print: true })).status).toBe(204);
  await host.waitFor("/api/job", (j: any) => j.state === "Printing");
  const busy = await host.api("/api/files/local/prints/torus.gcode", { method: "DELETE" });
  expect(busy.status).toBe(409);
  expect((await busy.json()).error).toBe("Trying to delete a file that is currently in use");
  expect((await host.api("/api/files/local/prints", { method: "DELETE" })).status).toBe(409);
  expect((await command("prints/torus.gcode", { command: "move", destination: "brackets" })).status).toBe(409);
  expect((await host.post("/api/job", { command: "cancel" })).status).toBe(204);
  await host.waitFor("/api/job", (j: any) => j.state === "Operational");

  expect((await host.api("/api/files/local/brackets", { method: "DELETE" })).status).toBe(204);
  expect((await host.api("/api/v1/files/brackets/clip.gcode")).status).toBe(404);
  const tree = await (await host.api("/api/files?recursive=true")).json();
  // (The virtual printer's SD card, listed once it is mounted, has a demo file of its own.)
  expect(tree.files.filter((e: any) => e.origin === "local").map((e: any) => e.path).sort()).toEqual(["parts", "prints"]);
  expect(typeof tree.free).toBe("number");
  expect(tree.total).toBeGreaterThan(tree.free);
}, 60_000);
