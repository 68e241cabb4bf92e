/**
 * The offline update's hold on the data folder (src/update/offline-lock.ts) against real
 * processes holding it: a host that announces itself while the update waits is asked instead;
 * an announcement of an update that has ended blocks nothing.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockHolder } from "../../src/host-lock.ts";
import { writeJsonAtomic } from "../../src/update/handover.ts";
import { holdForUpdate, updatingFile, updatingProcess } from "../../src/update/offline-lock.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-offline-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOST_LOCK = new URL("../../src/host-lock.ts", import.meta.url).pathname;
const RUNNING = new URL("../../src/update/running.ts", import.meta.url).pathname;

test("a host holding the folder that announces itself while the update waits is the one to ask", async () => {
  const data = join(dir, "starting");
  // Holds the folder at once, says where it answers half a second later (as a host does once it listens).
  const script = `const l = (await import(${JSON.stringify(HOST_LOCK)})).lockDataDir(${JSON.stringify(data)}); console.log(l ? "held" : "refused");
await Bun.sleep(500); (await import(${JSON.stringify(RUNNING)})).announceRunning(${JSON.stringify(data)}, "http://127.0.0.1:9", "1.0.0", "token"); setInterval(() => {}, 1000);`;
  const holder = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "inherit" });
  try {
    const reader = holder.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("held");
    const taken = await holdForUpdate(data);
    expect("running" in taken && taken.running).toMatchObject({ pid: holder.pid, url: "http://127.0.0.1:9" });
    expect(lockHolder(data)).toBe(holder.pid);
  } finally {
    holder.kill("SIGKILL");
    await holder.exited;
  }
}, 30_000);

test("the announcement of an update that has ended (killed) blocks nothing; a folder that was there stays", async () => {
  const data = join(dir, "stale");
  mkdirSync(data);
  writeJsonAtomic(updatingFile(data), { pid: 2 ** 22 + 1, startTime: "1" });
  expect(updatingProcess(data, null)).toBeNull();
  const taken = await holdForUpdate(data, 0);
  if (!("hold" in taken)) throw new Error("nothing holds the folder");
  expect(updatingProcess(data, lockHolder(data))).toBe(process.pid);
  taken.hold.release();
  expect(existsSync(updatingFile(data))).toBe(false);
  expect(lockHolder(data)).toBeNull();
  expect(existsSync(join(data, "layerline.lock"))).toBe(true);
});
