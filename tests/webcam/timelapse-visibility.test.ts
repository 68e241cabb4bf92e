/**
 * A key restricted to one printer sees that printer's timelapses only — also in what the renderer
 * is doing, whose set names carry another printer's id and G-code file name.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestHost, type TestHost } from "../helpers/host.ts";

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost();
}, 30_000);
afterAll(() => host?.close());

test("the render status shows a printer-restricted key no set of another printer", async () => {
  const first = (await (await host.api("/api/v1/printers")).json()).printers[0].id as string;
  const other = (await (await host.post("/api/v1/printers", { name: "Other", transport: "virtual" })).json()).id as string;
  // A frame set of the other printer, long enough to render that the test sees it rendering.
  const { store } = host.timelapse;
  const set = store.createSet({ printer: other, file: "secret-customer-part.gcode", startedAt: Date.now(), fps: 25, postRoll: 0, flipH: false, flipV: false, rotate: 0 });
  const frames = Bun.spawnSync(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25", "-frames:v", "300", "-q:v", "5", "-start_number", "1", join(store.setDir(set), "frame%06d.jpg")]);
  expect(frames.exitCode).toBe(0);
  store.updateMeta(set, () => ({ result: "done", endedAt: Date.now() }));

  const admin = host.accounts.users.byName("admin")!;
  const mine = host.accounts.createKey(admin, { name: "first only", scope: "read-only", printerId: first }).key;
  expect(host.timelapse.render(set)).toBeNull();
  while (host.timelapse.renderer.status().current?.set !== set) await Bun.sleep(10);

  const seen = await host.api("/api/v1/timelapse", { headers: { "x-api-key": mine } });
  expect(seen.status).toBe(200);
  const text = await seen.text();
  expect(text).not.toContain("secret-customer-part");
  expect(text).not.toContain(other);
  const page = await (await host.api("/ui/timelapse/list", { headers: { "x-api-key": mine } })).text();
  expect(page).not.toContain("secret-customer-part");
  // The admin sees it rendering.
  expect((await (await host.api("/api/v1/timelapse")).json()).render.current?.set).toBe(set);
}, 60_000);
