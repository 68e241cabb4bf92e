/**
 * A restore through the API of a host running as its own process (`bun src/main.ts`): the backup
 * is checked and staged, the host starts itself again in place (same process id) and comes up
 * with the backup's data.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findRunning } from "../../src/update/running.ts";
import { setUpAdmin, spawnServe, waitUntil } from "../helpers/host.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-restart-"));
let proc: Awaited<ReturnType<typeof spawnServe>>["proc"] | undefined;

afterAll(async () => {
  proc?.kill("SIGINT");
  await proc?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

test("POST /api/v1/backups/restore restarts the host in place and it comes up restored", async () => {
  const started = await spawnServe(dataDir);
  proc = started.proc;
  const key = await setUpAdmin(started.url);
  const api = (url: string, path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { ...init.headers, "x-api-key": key } });
  const put = (url: string, name: string, text: string) => {
    const form = new FormData();
    form.append("file", new Blob([text]), name);
    return api(url, "/api/v1/files", { method: "POST", body: form });
  };
  expect((await put(started.url, "kept.gcode", "G28 ; kept\n")).status).toBe(201);
  const made = await (await api(started.url, "/api/v1/backups", { method: "POST" })).json();
  const backup = await (await api(started.url, `/api/v1/backups/${made.name}`)).arrayBuffer();
  // Changed after the backup: the restore undoes it.
  expect((await api(started.url, "/api/v1/files/kept.gcode", { method: "DELETE" })).status).toBe(204);
  expect((await put(started.url, "later.gcode", "G28 ; later\n")).status).toBe(201);

  const res = await api(started.url, "/api/v1/backups/restore", { method: "POST", headers: { "content-type": "application/gzip" }, body: backup });
  expect(res.status).toBe(202);
  expect(await res.json()).toMatchObject({ restarting: true });

  // The same process (execve) announces itself again once it listens; its old address is gone.
  const running = await waitUntil(async () => findRunning(dataDir), (r) => r !== null && r.url !== started.url && r.pid === started.proc.pid, 60_000);
  const files = await waitUntil(
    async () => (await api(running!.url, "/api/v1/files").catch(() => null))?.json().catch(() => null),
    (b: any) => Array.isArray(b?.files),
  );
  expect((files as any).files.map((f: any) => f.path).sort()).toEqual(["kept.gcode"]);
  expect(readFileSync(join(dataDir, "files", "kept.gcode"), "utf8")).toBe("G28 ; kept\n");
  const aside = readdirSync(dataDir).filter((n) => n.startsWith("before-restore-"));
  expect(aside).toHaveLength(1);
  expect(readFileSync(join(dataDir, aside[0]!, "files", "later.gcode"), "utf8")).toBe("G28 ; later\n");
  // The stored backup itself is not replaced by restoring it.
  expect((await (await api(running!.url, "/api/v1/backups")).json()).backups.map((b: any) => b.name)).toEqual([made.name]);
}, 120_000);
