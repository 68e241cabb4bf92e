/**
 * Removing a printer on a host with several: its id is never given to a printer added later, so
 * nothing that still names the old one — an API key restricted to it, its history (and the print
 * times the time-left estimate averages), its scripts and profile — passes to a newcomer of the
 * same name. Also after a restart (the retired ids are in the database).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN, jobEnded, startTestHost, upload, type TestHost } from "../helpers/host.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-removal-"));
let host: TestHost;

beforeAll(async () => {
  host = await startTestHost({ dataDir });
}, 30_000);
afterAll(async () => {
  await host.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const patch = (path: string, body: unknown) => host.api(path, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

test("a removed printer's id, key, history, scripts and profile do not pass to a new printer of the same name", async () => {
  const added = await host.post("/api/v1/printers", { name: "Left", transport: "virtual" });
  expect(added.status).toBe(201);
  expect((await added.json()).id).toBe("left");
  await host.waitFor("/api/v1/printers/left", (p: any) => p.state === "operational");
  expect((await patch("/api/v1/printers/left/scripts", { afterPrintDone: "M300 S440 P200" })).status).toBe(200);
  expect((await patch("/api/v1/printers/left/profile", { volume: { width: 300, depth: 300, height: 400 } })).status).toBe(200);
  await upload(host, "cube.gcode", "G28\nG1 X10 Y10 F3000\n");
  expect((await host.post("/api/v1/printers/left/job", { file: "cube.gcode" })).status).toBe(200);
  await host.waitFor("/api/v1/printers/left", jobEnded);
  const admin = host.accounts.users.byName(ADMIN.username)!;
  const key = { "x-api-key": host.accounts.createKey(admin, { name: "left only", scope: "full", printerId: "left" }).key };
  expect((await host.api("/api/v1/printers/left", { headers: key })).status).toBe(200);

  expect((await host.api("/api/v1/printers/left", { method: "DELETE" })).status).toBe(204);
  const again = await host.post("/api/v1/printers", { name: "Left", transport: "virtual" });
  expect(again.status).toBe(201);
  const id = (await again.json()).id as string;
  expect(id).not.toBe("left");
  // The old key reaches nothing; the newcomer starts with no history and the default scripts and profile.
  expect((await host.api(`/api/v1/printers/${id}`, { headers: key })).status).toBe(403);
  expect((await host.api("/api/v1/printers", { headers: key }).then((r) => r.json())).printers).toEqual([]);
  expect((await (await host.api(`/api/v1/history?printer=${id}`)).json()).total).toBe(0);
  expect((await (await host.api(`/api/v1/printers/${id}/scripts`)).json()).scripts.afterPrintDone.isDefault).toBe(true);
  expect((await (await host.api(`/api/v1/printers/${id}/profile`)).json()).profile.volume.width).not.toBe(300);
  // The removed printer's history is kept under its own id.
  expect((await (await host.api("/api/v1/history?printer=left")).json()).items).toMatchObject([{ printerName: "Left", outcome: "done" }]);

  // After a restart too: removed once, never handed out again.
  expect((await host.api(`/api/v1/printers/${id}`, { method: "DELETE" })).status).toBe(204);
  await host.close();
  host = await startTestHost({ dataDir });
  const third = await (await host.post("/api/v1/printers", { name: "Left", transport: "virtual" })).json();
  expect([id, "left"]).not.toContain(third.id);
}, 60_000);

test("a removed printer's session answers what it is still asked at once, with a clear error, instead of never", async () => {
  expect((await host.post("/api/v1/printers", { name: "Gone", transport: "virtual" })).status).toBe(201);
  await host.waitFor("/api/v1/printers/gone", (p: any) => p.state === "operational");
  const session = host.printers.get("gone")!;
  expect((await host.api("/api/v1/printers/gone", { method: "DELETE" })).status).toBe(204);
  // A caller that held the session (the farm's dispatcher starting a copy) gets an answer.
  const late = await Promise.race([session.startJob("cube.gcode"), Bun.sleep(5_000).then(() => "no answer" as const)]);
  expect(late).toMatchObject({ ok: false, error: { message: "The printer was removed, or Layerline is stopping." } });
}, 30_000);

test("a key restricted to one printer hears of no other on /api/v1/events when printers are added or removed", async () => {
  const own = ((await (await host.api("/api/v1/printers")).json()) as any).printers[0].id as string;
  const admin = host.accounts.users.byName(ADMIN.username)!;
  const key = host.accounts.createKey(admin, { name: "own only", scope: "full", printerId: own }).key;
  const reader = (await host.api("/api/v1/events", { headers: { "x-api-key": key } })).body!.getReader();
  expect((await host.post("/api/v1/printers", { name: "Secret", transport: "virtual" })).status).toBe(201);
  let text = "";
  const deadline = Date.now() + 5_000;
  while (!text.includes("event: printers") && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), Bun.sleep(500).then(() => null)]);
    if (chunk && !chunk.done) text += new TextDecoder().decode(chunk.value);
  }
  await reader.cancel();
  expect(JSON.parse(/event: printers\ndata: (.*)\n/.exec(text)![1]!)).toEqual({ printers: [own] });
  expect(text).not.toContain("secret");
  expect((await host.api("/api/v1/printers/secret", { method: "DELETE" })).status).toBe(204);
}, 30_000);
