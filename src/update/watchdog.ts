/**
 * The update watchdog: a small process started from the *previous* binary (code that is known to
 * work) just before the host re-executes into a new version. It watches the handover record and
 * the new version's process; when the new version fails its self-test, dies (even before running
 * a line of its own), or hangs past the deadline, it stops it, rolls back, and — when no
 * supervisor will — starts the previous version again.
 *
 * Under systemd the main process's exit makes systemd send SIGTERM to the rest of the unit,
 * watchdog included: the watchdog then finishes the rollback before it exits, so systemd's
 * restart starts the restored binary.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import * as v from "valibot";
import {
  clearHandover,
  isRunning,
  readHandover,
  readJson,
  selfRef,
  watchdogFile,
  writeJsonAtomic,
  type Handover,
  type ProcessRef,
} from "./handover.ts";
import { rollBack } from "./rollback.ts";

/** The stage the old version writes before re-executing: the new one has not run any code yet. */
export const NOT_STARTED = "not started";
/** How long a new version that reported failure gets to close its database and exit. */
const EXIT_GRACE_MS = 15_000;
const POLL_MS = 200;

/** True when a service manager restarts Layerline after it exits (then the watchdog does not). */
export function isSupervised(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env.INVOCATION_ID || env.LAYERLINE_SUPERVISED);
}

/** Whether a watchdog is currently watching the update of `dataDir`. */
export function watchdogAlive(dataDir: string): boolean {
  const ref = readJson(watchdogFile(dataDir), v.object({ pid: v.number(), startTime: v.string() }));
  return ref !== null && isRunning(ref);
}

/**
 * Starts the watchdog from `binary` (the previous version) as a grandchild, so it is nobody's
 * child once this process re-executes; resolves when it reports that it is watching.
 */
export async function spawnWatchdog(binary: string, dataDir: string): Promise<void> {
  rmSync(watchdogFile(dataDir), { force: true });
  // `sh` starts it in the background and exits at once; the watchdog's output goes to our stderr.
  const shell = Bun.spawn(["/bin/sh", "-c", '"$@" </dev/null >&2 &', "sh", binary, "update-watchdog", "--data-dir", dataDir], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "inherit",
  });
  await shell.exited;
  const deadline = Date.now() + 20_000;
  while (!watchdogAlive(dataDir)) {
    if (Date.now() > deadline) throw new Error(`the update watchdog (${binary} update-watchdog) did not start`);
    await Bun.sleep(50);
  }
}

/** The watchdog's main loop (`layerline update-watchdog --data-dir D`); returns the exit code. */
export async function runWatchdog(dataDir: string, log: (line: string) => void = (l) => console.error(`layerline update watchdog: ${l}`)): Promise<number> {
  writeJsonAtomic(watchdogFile(dataDir), selfRef());
  let terminated = false;
  let failedSince: number | null = null;

  const finish = (handover: Handover, reason: string): number => {
    const done = rollBack(dataDir, reason);
    log(`rolled back to ${handover.from}: ${done?.reason ?? reason}`);
    if (!terminated && !handover.stopped && !isSupervised()) restartPrevious(handover, log);
    rmSync(watchdogFile(dataDir), { force: true });
    return 0;
  };

  // SIGTERM: the service is stopping (or the new version exited under systemd). An unconfirmed
  // update must not survive that: wait for the new version to let go of the database, roll back.
  process.on("SIGTERM", () => {
    terminated = true;
    const handover = readHandover(dataDir);
    if (handover && isOpen(handover.phase)) {
      if (handover.process) stopProcess(handover.process, EXIT_GRACE_MS);
      finish(handover, handover.reason ?? `the service was stopped before Layerline ${handover.to} finished its self-test (last: ${handover.stage})`);
    }
    process.exit(0);
  });

  for (;;) {
    let handover = readHandover(dataDir);
    if (!handover || handover.phase === "rolled-back") break;
    const alive = handover.process === null || isRunning(handover.process);
    // Once the process is gone, its last words (confirmed, failed, stopped) decide what follows.
    if (!alive) handover = readHandover(dataDir) ?? handover;
    if (handover.phase === "confirmed") {
      clearHandover(dataDir);
      log(`Layerline ${handover.to} passed its self-test; the update is complete`);
      break;
    }
    if (handover.phase === "failed") {
      failedSince ??= Date.now();
      if (!alive || Date.now() - failedSince > EXIT_GRACE_MS) {
        if (alive && handover.process) stopProcess(handover.process, 0);
        return finish(handover, handover.reason ?? "the new version failed its self-test");
      }
    } else if (!alive) {
      return finish(
        handover,
        handover.stage === NOT_STARTED
          ? `Layerline ${handover.to} stopped before it could run any of its own code (it crashed or cannot run on this system)`
          : `Layerline ${handover.to} stopped during its self-test (while ${handover.stage})`,
      );
    } else if (Date.now() > handover.deadline) {
      if (handover.process) stopProcess(handover.process, 0);
      return finish(handover, `Layerline ${handover.to} did not finish its self-test in time (it was ${handover.stage})`);
    }
    await Bun.sleep(POLL_MS);
  }
  rmSync(watchdogFile(dataDir), { force: true });
  return 0;
}

const isOpen = (phase: Handover["phase"]) => phase === "restarting" || phase === "pending" || phase === "failed";

/** Asks a process to stop, waits up to `graceMs`, then kills it; returns when it is gone. */
function stopProcess(ref: ProcessRef, graceMs: number): void {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(ref.pid, s);
    } catch {
      // already gone
    }
  };
  if (graceMs > 0) signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isRunning(ref) && Date.now() < deadline) Bun.sleepSync(50);
  if (isRunning(ref)) signal("SIGKILL");
  const hard = Date.now() + 5_000;
  while (isRunning(ref) && Date.now() < hard) Bun.sleepSync(20);
}

/** With no supervisor, nobody else would start Layerline again: start the restored version. */
function restartPrevious(handover: Handover, log: (line: string) => void): void {
  const child = spawn(handover.execPath, handover.argv, { cwd: handover.cwd, detached: true, stdio: ["ignore", "inherit", "inherit"], env: process.env });
  child.on("error", (e) => log(`could not start ${handover.execPath} again: ${e.message}`));
  child.unref();
  log(`started Layerline ${handover.from} again (pid ${child.pid})`);
}
