/**
 * The data folder's lock (src/host-lock.ts) with real processes: exclusive, gone with its process,
 * handed on across a re-exec in place and never inherited by child processes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockDataDir, lockFile, lockHolder } from "../src/host-lock.ts";

const SCRIPT = new URL("./helpers/lock-reexec.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "layerline-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function waitForLine(out: () => string, pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
  const until = Date.now() + ms;
  for (;;) {
    const m = pattern.exec(out());
    if (m) return m;
    if (Date.now() > until) throw new Error(`no ${pattern} in: ${out()}`);
    await Bun.sleep(20);
  }
}

function spawnScript(data: string, how: string) {
  const proc = Bun.spawn(["bun", SCRIPT, data, how], { stdout: "pipe", stderr: "inherit" });
  let out = "";
  void (async () => {
    const decoder = new TextDecoder();
    const reader = proc.stdout.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += decoder.decode(r.value, { stream: true });
  })();
  return { proc, out: () => out };
}

describe("the data folder's lock", () => {
  test("in one process: a second taker is refused until the first releases it; the holder is named", () => {
    const data = join(dir, "one");
    const first = lockDataDir(data)!;
    expect(first).not.toBeNull();
    expect(lockHolder(data)).toBe(process.pid);
    expect(lockDataDir(data)).toBeNull();
    first.release();
    expect(lockHolder(data)).toBeNull();
    const again = lockDataDir(data)!;
    expect(again).not.toBeNull();
    again.release();
  });

  test("discarded, the lock file goes with the lock; a descriptor of the removed file keeps no one out", () => {
    const data = join(dir, "discarded");
    const first = lockDataDir(data)!;
    // Opened before the file was removed (a taker that lost the race to it).
    const stale = openSync(lockFile(data), "a");
    first.discard();
    expect(existsSync(lockFile(data))).toBe(false);
    const next = lockDataDir(data)!;
    try {
      expect(next).not.toBeNull();
      expect(existsSync(lockFile(data))).toBe(true);
      expect(lockHolder(data)).toBe(process.pid);
    } finally {
      next.release();
      closeSync(stale);
    }
  });

  for (const how of ["update", "watchdog"]) {
    test(`a re-exec in place (${how}) keeps the lock through the exec and the new program adopts it; children never hold it`, async () => {
      const data = join(dir, how);
      const script = spawnScript(data, how);
      let childPid = 0;
      try {
        // Before the new program adopted it, the lock was already held by this same process.
        const before = await waitForLine(script.out, /holder before adopting: (\S+)/);
        expect(before[1]).toBe(String(script.proc.pid));
        await waitForLine(script.out, /variable: \S+/);
        expect(script.out()).toContain("adopted");
        expect(script.out()).toContain("variable: gone");
        childPid = Number((await waitForLine(script.out, /child: (\d+)/))[1]);
        expect(lockDataDir(data)).toBeNull();
        expect(lockHolder(data)).toBe(script.proc.pid);
      } finally {
        script.proc.kill("SIGKILL");
        await script.proc.exited;
      }
      // Killed with -9: the file stays, the lock went with the process (not with its child, still running).
      expect(existsSync(lockFile(data))).toBe(true);
      expect(() => process.kill(childPid, 0)).not.toThrow();
      const next = lockDataDir(data);
      try {
        expect(next).not.toBeNull();
      } finally {
        next?.release();
        process.kill(childPid, "SIGKILL");
      }
    }, 30_000);
  }
});
