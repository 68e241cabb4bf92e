/**
 * A full disk and a read-only one, for real: the files folder is a 1 MiB tmpfs (mounting needs root, which the test
 * machines and CI have; elsewhere the suite is skipped and says so). Every way a file is written —
 * a multipart upload, a raw PUT (with and without a length announced up front), a copy — answers
 * 507 `no_space` with a sentence, leaves no temporary file, and the file already stored under the
 * same name keeps its content. A disk that turns read-only (a failing SD card) answers 507
 * `read_only` to every change, and the files can still be listed and downloaded.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestHost, upload, type TestHost } from "../helpers/host.ts";

const dataDir = mkdtempSync(join(tmpdir(), "layerline-full-"));
const filesDir = join(dataDir, "files");
mkdirSync(filesDir);
const mounted = process.getuid?.() === 0 && Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", filesDir]).exitCode === 0;
if (!mounted) console.warn("disk-full tests skipped: mounting a tmpfs needs root");

let host: TestHost;
beforeAll(async () => {
  if (mounted) host = await startTestHost({ dataDir });
}, 30_000);
afterAll(async () => {
  await host?.close();
  if (mounted) Bun.spawnSync(["umount", "-l", filesDir]);
  rmSync(dataDir, { recursive: true, force: true });
});

const KEPT = "G1 X1 E1\n".repeat(40_000); // 360 KB: fits once, not three times
const TOO_BIG = "G1 X2 E1\n".repeat(200_000); // 1.8 MB: never fits

/** A body streamed without a Content-Length, so the host only finds out while writing. */
const streamed = (text: string) => new Blob([text]).stream();

const expectFull = async (res: Response) => {
  const body = await res.json();
  expect({ status: res.status, code: body.error?.code }).toEqual({ status: 507, code: "no_space" });
  expect(body.error.message).toMatch(/not enough free space|disk is full/);
};
const keptIntact = async () => {
  expect(await (await host.api("/api/v1/files/kept.gcode/content")).text()).toBe(KEPT);
  // Nothing half-written is left, visible or hidden.
  expect(readdirSync(filesDir).filter((n) => n !== "kept.gcode" && n !== "lost+found")).toEqual([]);
};

describe.skipIf(!mounted)("a full disk", () => {
  test("an upload too large for the free space is refused up front", async () => {
    expect((await upload(host, "kept.gcode", KEPT)).status).toBe(201);
    await expectFull(await upload(host, "kept.gcode", TOO_BIG));
    await expectFull(await host.api("/api/v1/files/kept.gcode", { method: "PUT", body: TOO_BIG }));
    await keptIntact();
  }, 30_000);

  test("a raw PUT that fills the disk while streaming is a 507, not a 500", async () => {
    await expectFull(await host.api("/api/v1/files/kept.gcode", { method: "PUT", body: streamed(TOO_BIG), duplex: "half" } as RequestInit));
    await keptIntact();
  }, 30_000);

  test("a multipart upload that fills the disk while streaming", async () => {
    const data = new FormData();
    data.append("file", new Blob([TOO_BIG]), "kept.gcode");
    const encoded = new Response(data);
    const res = await host.api("/api/v1/files", { method: "POST", headers: { "content-type": encoded.headers.get("content-type")! }, body: encoded.body, duplex: "half" } as RequestInit);
    await expectFull(res);
    await keptIntact();
  }, 30_000);

  test("copies that do not fit are a 507 and leave nothing behind", async () => {
    let full = false;
    for (let i = 0; i < 5 && !full; i++) {
      const res = await host.post("/api/v1/files/kept.gcode", { command: "copy", destination: `copy${i}.gcode` });
      if (res.status === 200) continue;
      await expectFull(res);
      full = true;
    }
    expect(full).toBe(true);
    const { files } = await (await host.api("/api/v1/files")).json();
    // Each copy listed is whole.
    for (const f of files) expect(f.size).toBe(KEPT.length);
    for (const f of files) if (f.path !== "kept.gcode") await host.api(`/api/v1/files/${f.path}`, { method: "DELETE" });
    await keptIntact();
  }, 30_000);
});

describe.skipIf(!mounted)("a read-only disk", () => {
  test("every change is a 507 read_only; listing and downloading go on", async () => {
    expect((await upload(host, "ro.gcode", "G1 X3\n")).status).toBe(201);
    await host.post("/api/v1/files", { folder: "shelf" });
    // A file deleted while the analyser still reads it keeps the mount busy for a moment.
    let remounted = false;
    for (let i = 0; i < 100 && !remounted; i++) {
      remounted = Bun.spawnSync(["mount", "-o", "remount,ro", filesDir]).exitCode === 0;
      if (!remounted) await Bun.sleep(100);
    }
    expect(remounted).toBe(true);
    try {
      const attempts = [
        upload(host, "new.gcode", "G1 X1\n"),
        upload(host, "ro.gcode", "G1 X1\n"),
        host.api("/api/v1/files/ro.gcode", { method: "PUT", body: "G1 X1\n" }),
        host.api("/api/v1/files/streamed.gcode", { method: "PUT", body: streamed("G1 X1\n"), duplex: "half" } as RequestInit),
        host.post("/api/v1/files", { folder: "new-folder" }),
        host.post("/api/v1/files/ro.gcode", { command: "copy", destination: "copy.gcode" }),
        host.post("/api/v1/files/ro.gcode", { command: "move", destination: "shelf" }),
        host.post("/api/v1/files/ro.gcode", { command: "rename", name: "other.gcode" }),
        host.api("/api/v1/files/ro.gcode", { method: "DELETE" }),
        host.api("/api/v1/files/shelf", { method: "DELETE" }),
      ];
      for (const res of await Promise.all(attempts)) {
        const body = await res.json();
        expect({ status: res.status, code: body.error?.code }).toEqual({ status: 507, code: "read_only" });
        expect(body.error.message).toContain("read-only");
      }
      const { files } = await (await host.api("/api/v1/files")).json();
      expect(files.map((f: { path: string }) => f.path)).toContain("ro.gcode");
      expect(files.map((f: { path: string }) => f.path)).not.toContain("new.gcode");
      expect(await (await host.api("/api/v1/files/ro.gcode/content")).text()).toBe("G1 X3\n");
    } finally {
      Bun.spawnSync(["mount", "-o", "remount,rw", filesDir]);
    }
  }, 30_000);
});
