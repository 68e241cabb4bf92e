/**
 * Backup and restore end to end: a host with a user, API keys, a renamed printer, files in a
 * folder, a plugin and a firmware-quirk override is backed up through the API and the CLI, and
 * restored into a fresh data folder (CLI) and into the running host (API, applied at its next
 * start); hostile, damaged and too-new backups are refused with nothing changed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { openArchive } from "../../src/archive/archive.ts";
import { createBackup } from "../../src/backup/create.ts";
import { BackupError } from "../../src/backup/problem.ts";
import { tarHeader, tarPadding, TAR_END } from "../../src/backup/tar.ts";
import { migrations } from "../../src/db/migrations/index.ts";
import { ADMIN, startTestHost, upload, type TestHost } from "../helpers/host.ts";
import { makeTar } from "../helpers/archives.ts";
import { postLogin } from "../helpers/session.ts";
import { routeEntry, writePlugin } from "../plugins/helpers.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const GCODE = "; a part\nG28\nG1 X10 Y10 Z0.2 F1200\nG1 X20 E1\n".repeat(200);
const QUIRK = JSON.stringify({ note: "my own quirks file" });
const BIG = `; big\n${"G1 X1 Y1 E0.1 ; filler line\n".repeat(100_000)}`;
const MAKER = { username: "maker", password: "maker's long password" };

let root: string;
let host: TestHost;
let printerId: string;
let makerKey: string;

async function cli(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(["bun", MAIN, ...args], { stdout: "pipe", stderr: "pipe", stdin: stdin === undefined ? "ignore" : new Blob([stdin]) });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

/** The archive's entries as path → bytes (files only), read through the untrusting reader. */
function contents(bytes: Uint8Array): Map<string, Uint8Array> {
  const archive = openArchive(bytes, { maxTotalBytes: 2 ** 30, maxFileBytes: 2 ** 30, maxEntries: 100_000 });
  return new Map(archive.entries.filter((e) => e.type === "file").map((e) => [e.path, archive.read(e.path)]));
}

/** A backup's archive rebuilt with some entries changed (a manifest edited, an entry added). */
function rewrite(bytes: Uint8Array, change: (files: Map<string, Uint8Array>) => void): Uint8Array {
  const files = contents(bytes);
  change(files);
  const parts: Uint8Array[] = [];
  for (const [path, data] of files) parts.push(tarHeader({ path, type: "file", size: data.length, mtimeMs: 0 }), data, tarPadding(data.length));
  parts.push(TAR_END);
  return gzipSync(Buffer.concat(parts));
}

/** What a data folder's state is, as a restore must leave it or bring it back. */
async function state(h: TestHost) {
  const files = (await (await h.api("/api/v1/files?recursive=true")).json()).files.map((f: any) => f.path).sort();
  const printers = (await (await h.api("/api/v1/printers")).json()).printers.map((p: any) => p.name);
  const users = (await (await h.api("/api/v1/users")).json()).users.map((u: any) => u.name).sort();
  return { files, printers, users };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "layerline-backup-"));
  const dataDir = join(root, "original");
  mkdirSync(join(dataDir, "firmware-quirks"), { recursive: true });
  writeFileSync(join(dataDir, "firmware-quirks", "mine.json"), QUIRK);
  writePlugin(join(dataDir, "plugins"), { id: "backup-probe", entry: routeEntry("still here") });
  host = await startTestHost({ dataDir, plugins: { watch: false, repositorySchedule: false } });
  const maker = await host.accounts.addUser(MAKER.username, MAKER.password, "users");
  makerKey = host.accounts.createKey(maker, { name: "slicer", scope: "full" }).key;
  printerId = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
  expect((await host.api(`/api/v1/printers/${printerId}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Workshop Ender" }) })).status).toBe(200);
  expect((await upload(host, "bracket.gcode", GCODE, "parts")).status).toBe(201);
  expect((await upload(host, "top.gcode", "G28\n")).status).toBe(201);
  // Larger than the pieces the archive is written and unpacked in.
  expect((await upload(host, "big.gcode", BIG, "parts")).status).toBe(201);
  // Never in a backup: logs, caches, an upload in progress.
  mkdirSync(join(dataDir, "logs"), { recursive: true });
  writeFileSync(join(dataDir, "logs", "serial-x.jsonl"), "{}\n");
  writeFileSync(join(dataDir, "files", ".upload-half"), "half");
}, 60_000);

afterAll(async () => {
  await host?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("making a backup", () => {
  test("through the API: stored, listed, downloaded, with the manifest and every part", async () => {
    const made = await host.post("/api/v1/backups", { withTimelapses: false });
    expect(made.status).toBe(201);
    const info = await made.json();
    expect(info.name).toMatch(/^layerline-backup-\d{8}-\d{6}\.tar\.gz$/);
    expect(info.manifest).toMatchObject({ format: 1, schema: migrations.length, includes: ["database", "files", "plugins", "firmware-quirks"] });
    const list = await (await host.api("/api/v1/backups")).json();
    expect(list.backups.map((b: any) => b.name)).toContain(info.name);
    expect(list.backups[0].bytes).toBe(info.bytes);

    const download = await host.api(`/api/v1/backups/${info.name}`);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toContain(info.name);
    const files = contents(new Uint8Array(await download.arrayBuffer()));
    expect([...files.keys()][0]).toBe("manifest.json");
    expect(new TextDecoder().decode(files.get("files/parts/bracket.gcode"))).toBe(GCODE);
    expect(new TextDecoder().decode(files.get("firmware-quirks/mine.json"))).toBe(QUIRK);
    expect(files.has("plugins/backup-probe/plugin.json") || [...files.keys()].some((k) => k.startsWith("plugins/backup-probe/"))).toBe(true);
    expect(new TextDecoder().decode(files.get("layerline.sqlite")!.subarray(0, 15))).toBe("SQLite format 3");
    for (const path of files.keys()) expect(path).not.toMatch(/^(logs|cache|update|backups|restore)\/|\.upload-/);

    expect((await host.api(`/api/v1/backups/${info.name}`, { method: "DELETE" })).status).toBe(204);
    expect((await host.api(`/api/v1/backups/${info.name}`)).status).toBe(404);
    expect((await host.api("/api/v1/backups/..%2Flayerline.sqlite")).status).toBe(404);
  });

  test("only an admin may make, list, download or restore backups", async () => {
    const asMaker = (path: string, init: RequestInit = {}) => host.api(path, { ...init, headers: { ...init.headers, "x-api-key": makerKey } });
    expect((await asMaker("/api/v1/backups")).status).toBe(403);
    expect((await asMaker("/api/v1/backups", { method: "POST" })).status).toBe(403);
    expect((await asMaker("/api/v1/backups/layerline-backup-20260101-000000.tar.gz")).status).toBe(403);
    expect((await asMaker("/api/v1/backups/layerline-backup-20260101-000000.tar.gz", { method: "DELETE" })).status).toBe(403);
    expect((await asMaker("/api/v1/backups/restore", { method: "POST", body: new Uint8Array([1, 2, 3]) })).status).toBe(403);
    expect((await host.anonymous("/api/v1/backups")).status).toBe(401);
  });

  test("a disk that fills while writing leaves no partial file", async () => {
    const dir = join(root, "full-disk");
    mkdirSync(dir);
    const output = join(dir, "backup.tar.gz");
    // Everything written to the unfinished file goes to /dev/full: ENOSPC, as on a full disk.
    symlinkSync("/dev/full", `${output}.partial`);
    const error = await createBackup({ dataDir: host.dataDir, output, withTimelapses: false, version: "test", now: Date.now(), db: host.db }).catch((e) => e);
    expect(error).toBeInstanceOf(BackupError);
    expect(error.code).toBe("no_space");
    expect(error.message).toContain("disk is full");
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("restoring", () => {
  let backup: Uint8Array;

  beforeAll(async () => {
    // The CLI, while the host runs on the data folder.
    const out = join(root, "cli-backup.tar.gz");
    const r = await cli(["backup", "--data-dir", host.dataDir, "--output", out]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("was running");
    backup = new Uint8Array(readFileSync(out));
  }, 30_000);

  test("the CLI restores into a fresh data folder: same users, keys, printers, files, plugin and quirks", async () => {
    const fresh = join(root, "fresh");
    const refused = await cli(["restore", join(root, "cli-backup.tar.gz"), "--data-dir", fresh]);
    expect(refused.code).toBe(1);
    expect(refused.out + refused.err).toContain("Nothing was changed");
    expect(existsSync(join(fresh, "layerline.sqlite"))).toBe(false);
    const r = await cli(["restore", join(root, "cli-backup.tar.gz"), "--data-dir", fresh, "--yes"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const copy = await startTestHost({ dataDir: fresh, setup: false, plugins: { watch: false, repositorySchedule: false } });
    try {
      const key = (path: string, k: string) => copy.anonymous(path, { headers: { "x-api-key": k } });
      // The old keys work, and the old passwords log in.
      expect((await key("/api/v1/me", host.apiKey)).status).toBe(200);
      expect((await (await key("/api/v1/me", makerKey)).json()).user.name).toBe("maker");
      const login = await postLogin(copy as TestHost, { username: MAKER.username, password: MAKER.password, next: "/" });
      expect(login.status).toBe(303);
      expect(login.headers.getSetCookie().some((c) => c.startsWith("layerline_session="))).toBe(true);
      const admin = (path: string) => key(path, host.apiKey);
      expect((await (await admin("/api/v1/printers")).json()).printers.map((p: any) => p.name)).toEqual(["Workshop Ender"]);
      expect(await (await admin("/api/v1/files/parts/bracket.gcode/content")).text()).toBe(GCODE);
      expect(readFileSync(join(fresh, "files", "parts", "bracket.gcode"), "utf8")).toBe(GCODE);
      expect(readFileSync(join(fresh, "files", "parts", "big.gcode"), "utf8")).toBe(BIG);
      expect(readFileSync(join(fresh, "firmware-quirks", "mine.json"), "utf8")).toBe(QUIRK);
      expect(await (await admin("/api/v1/plugins/backup-probe/value")).json()).toEqual({ value: "still here" });
    } finally {
      await copy.stop();
    }
  }, 60_000);

  test("the CLI refuses while a host runs on the data folder", async () => {
    const r = await cli(["restore", join(root, "cli-backup.tar.gz"), "--data-dir", host.dataDir, "--yes"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("Layerline is running on");
    expect(r.err).toContain("systemctl stop layerline");
  });

  test("the CLI refuses while a process holds the data folder's lock without announcing itself (a host still starting), and changes nothing", async () => {
    const data = join(root, "held");
    const lock = new URL("../../src/host-lock.ts", import.meta.url).pathname;
    const holder = Bun.spawn(["bun", "-e", `const l = (await import(${JSON.stringify(lock)})).lockDataDir(${JSON.stringify(data)}); console.log(l ? "held" : "refused"); setInterval(() => {}, 1000);`], { stdout: "pipe", stderr: "inherit" });
    try {
      expect(new TextDecoder().decode((await holder.stdout.getReader().read()).value)).toContain("held");
      const r = await cli(["restore", join(root, "cli-backup.tar.gz"), "--data-dir", data, "--yes"]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`Layerline is running on ${data} (process ${holder.pid})`);
      expect(readdirSync(data).sort()).toEqual(["layerline.lock"]);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
  });

  test("hostile, damaged, foreign and too-new backups are refused and nothing changes", async () => {
    const before = await state(host);
    const hostile: [string, Uint8Array, number, string][] = [
      ["truncated", backup.subarray(0, Math.floor(backup.length / 2)), 400, "invalid_archive"],
      ["not an archive", new TextEncoder().encode("just some text, long enough to be looked at ".repeat(20)), 400, "invalid_archive"],
      ["a path escaping", makeTar([{ path: "manifest.json", content: "{}" }, { path: "files/../../evil.gcode", content: "G28" }], { gzip: true }), 400, "invalid_archive"],
      ["a link", makeTar([{ path: "files/link.gcode", type: "symlink", linkTarget: "/etc/passwd" }], { gzip: true }), 400, "invalid_archive"],
      ["no manifest", rewrite(backup, (f) => f.delete("manifest.json")), 400, "invalid_manifest"],
      ["an invalid manifest", rewrite(backup, (f) => f.set("manifest.json", new TextEncoder().encode('{"format": 1, "layerline": "x"}'))), 400, "invalid_manifest"],
      ["a foreign entry", rewrite(backup, (f) => f.set("update/running.json", new TextEncoder().encode("{}"))), 400, "unexpected_entry"],
      ["a database that is not one", rewrite(backup, (f) => f.set("layerline.sqlite", new TextEncoder().encode("SQLite format 3\0 and then garbage".repeat(100)))), 400, "invalid_database"],
      [
        "a newer schema",
        rewrite(backup, (f) => {
          const m = JSON.parse(new TextDecoder().decode(f.get("manifest.json")));
          f.set("manifest.json", new TextEncoder().encode(JSON.stringify({ ...m, layerline: "99.0.0", schema: migrations.length + 1 })));
        }),
        409,
        "newer_schema",
      ],
    ];
    for (const [what, bytes, status, code] of hostile) {
      const res = await host.api("/api/v1/backups/restore", { method: "POST", headers: { "content-type": "application/gzip" }, body: bytes as Uint8Array<ArrayBuffer> });
      const body = await res.json();
      expect({ what, status: res.status, code: body.error?.code }).toEqual({ what, status, code });
      expect(body.error.message.length).toBeGreaterThan(10);
      if (code === "newer_schema") expect(body.error.hint).toContain("Update Layerline to 99.0.0");
    }
    // No upload, scratch .tar or half-unpacked folder is left behind.
    expect(readdirSync(join(host.dataDir, "restore"))).toEqual([]);
    expect(readdirSync(host.dataDir).filter((n) => n.startsWith("before-restore"))).toEqual([]);
    expect(await state(host)).toEqual(before);
  });

  test("a gzip bomb is refused by the reader's bounds, and its scratch file removed", async () => {
    const { openBackup } = await import("../../src/backup/restore.ts");
    const scratch = join(root, "bomb");
    mkdirSync(scratch);
    const bomb = join(scratch, "bomb.tar.gz");
    writeFileSync(bomb, makeTar([{ path: "manifest.json", content: "{}" }, { path: "files/huge.gcode", content: new Uint8Array(8 * 1024 * 1024) }], { gzip: true }));
    expect(Bun.file(bomb).size).toBeLessThan(64 * 1024);
    const error = await openBackup(bomb, migrations.length, scratch, { maxTotalBytes: 1024 * 1024, maxFileBytes: 1024 * 1024, maxEntries: 10 }).catch((e) => e);
    expect(error).toBeInstanceOf(BackupError);
    expect(error.code).toBe("too_large");
    expect(readdirSync(scratch)).toEqual(["bomb.tar.gz"]);
  });

  test("the API refuses a restore while a printer prints", async () => {
    const slow = await startTestHost({ virtual: { timeScale: 1 } });
    try {
      const id = (await (await slow.api("/api/v1/printers")).json()).printers[0].id;
      await slow.waitFor(`/api/v1/printers/${id}`, (p: any) => p.state === "operational");
      await upload(slow, "long.gcode", "G28\nG4 S60\nG1 X10\n");
      expect((await slow.post(`/api/v1/printers/${id}/job`, { file: "long.gcode" })).status).toBe(200);
      const res = await slow.api("/api/v1/backups/restore", { method: "POST", headers: { "content-type": "application/gzip" }, body: backup as Uint8Array<ArrayBuffer> });
      expect(res.status).toBe(409);
      const body = await res.json();
      expect(body.error.code).toBe("printing");
      expect(body.error.message).toContain("prints");
      expect(existsSync(join(slow.dataDir, "restore", "staged"))).toBe(false);
      await slow.post(`/api/v1/printers/${id}/job/cancel`);
    } finally {
      await slow.close();
    }
  }, 30_000);

  test("the API restores into the running host: applied at the next start, the replaced data kept aside", async () => {
    const dataDir = join(root, "api-target");
    mkdirSync(dataDir);
    const target = await startTestHost({ dataDir, plugins: { watch: false, repositorySchedule: false } });
    await upload(target, "other.gcode", "G28\n");
    await target.accounts.addUser("someone-else", "another long password", "users");
    const res = await target.api("/api/v1/backups/restore", { method: "POST", headers: { "content-type": "application/gzip" }, body: backup as Uint8Array<ArrayBuffer> });
    expect(res.status).toBe(202);
    const body = await res.json();
    // A host inside another program cannot restart itself: the restore waits for its next start.
    expect(body).toMatchObject({ restarting: false, manifest: { schema: migrations.length } });
    expect((await (await target.api("/api/v1/backups")).json()).restorePending).toBe(true);
    await target.stop();

    const again = await startTestHost({ dataDir, plugins: { watch: false, repositorySchedule: false } });
    try {
      const restored = await state(again);
      expect(restored.printers).toEqual(["Workshop Ender"]);
      expect(restored.users).toEqual(["admin", "maker"]);
      expect(restored.files).toContain("parts/bracket.gcode");
      expect(restored.files).not.toContain("other.gcode");
      expect(readFileSync(join(dataDir, "files", "parts", "bracket.gcode"), "utf8")).toBe(GCODE);
      expect((await again.anonymous("/api/v1/me", { headers: { "x-api-key": makerKey } })).status).toBe(200);
      const aside = readdirSync(dataDir).filter((n) => n.startsWith("before-restore-"));
      expect(aside).toHaveLength(1);
      expect(readFileSync(join(dataDir, aside[0]!, "files", "other.gcode"), "utf8")).toBe("G28\n");
      expect(existsSync(join(dataDir, aside[0]!, "layerline.sqlite"))).toBe(true);
      expect(existsSync(join(dataDir, "restore", "staged"))).toBe(false);
    } finally {
      await again.stop();
    }
  }, 60_000);
});
