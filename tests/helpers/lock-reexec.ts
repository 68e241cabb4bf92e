/**
 * For tests/host-lock.test.ts: takes a data folder's lock, re-executes itself in place as an
 * update (`carry`) or the main thread's watchdog (every descriptor close-on-exec first, then
 * `carry`) do, and in the new program reports who held the lock before it adopted it, adopts it,
 * and starts a child that outlives it.  Usage: bun lock-reexec.ts DATA_DIR [update|watchdog]
 */
import { carried, lockDataDir, lockHolder } from "../../src/host-lock.ts";
import { closeOnExecAll, execve } from "../../src/update/exec.ts";

const [dir, how = "update"] = process.argv.slice(2) as [string, string?];
if (process.env.LOCK_STAGE !== "2") {
  const lock = lockDataDir(dir);
  if (!lock) {
    console.log("refused");
    process.exit(1);
  }
  if (how === "watchdog") closeOnExecAll();
  const failed = execve(process.execPath, [process.execPath, import.meta.path, dir, how], { ...process.env, LOCK_STAGE: "2" }, carried());
  console.log(`exec failed: ${failed}`);
  process.exit(1);
}
console.log(`holder before adopting: ${lockHolder(dir)}`);
const lock = lockDataDir(dir);
console.log(lock ? "adopted" : "refused");
console.log(`variable: ${process.env.LAYERLINE_LOCK_FD ?? "gone"}`);
// A program started now must not inherit the lock (it is close-on-exec again).
const child = Bun.spawn(["sleep", "60"], { stdio: ["ignore", "ignore", "ignore"] });
console.log(`child: ${child.pid}`);
setInterval(() => undefined, 1000);
