/**
 * The update watchdog (`layerline update-watchdog`) against a stand-in for the new version (a
 * plain `sleep` process): it rolls back when that process dies, reports failure or hangs, starts
 * the previous version again only when nobody else will, and leaves a confirmed update alone.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { handoverFile, processStartTime, readHandover, updateHandover, writeHandover, type Handover } from "../../src/update/handover.ts";
import { handoverFor } from "./helpers.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), "layerline-watchdog-"));
const started: ReturnType<typeof Bun.spawn>[] = [];
afterAll(() => {
  for (const p of started) p.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

let dir: string;
let dataDir: string;
let binary: string;
let marker: string;
beforeEach(() => {
  dir = mkdtempSync(join(root, "case-"));
  dataDir = join(dir, "data");
  mkdirSync(dataDir);
  binary = join(dir, "layerline");
  marker = join(dir, "restarted");
  writeFileSync(binary, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  // The previous version: when started again it leaves a mark with its arguments.
  writeFileSync(`${binary}.previous`, `#!/bin/sh\necho "$@" > ${marker}\n`, { mode: 0o755 });
  writeFileSync(join(dataDir, "layerline.sqlite"), "database as the new version left it");
  writeFileSync(join(dataDir, "backup.sqlite"), "database before the update");
});

/** A stand-in for the new version's process. */
function trialProcess() {
  const proc = Bun.spawn(["sleep", "60"], { stdout: "ignore", stderr: "ignore" });
  started.push(proc);
  return { proc, ref: { pid: proc.pid, startTime: processStartTime(proc.pid)! } };
}

const handover = (change: Partial<Handover> = {}) => handoverFor(binary, dataDir, "2.0.0", { backup: join(dataDir, "backup.sqlite"), argv: ["serve", "--port", "5000"], ...change });

function watchdog(env: Record<string, string> = {}) {
  const proc = Bun.spawn(["bun", MAIN, "update-watchdog", "--data-dir", dataDir], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH!, HOME: dir, ...env } });
  started.push(proc);
  return proc;
}

async function untilWatching() {
  const deadline = Date.now() + 10_000;
  while (!existsSync(join(dataDir, "update", "watchdog.json")) && Date.now() < deadline) await Bun.sleep(20);
}

const rolledBack = () => {
  expect(readFileSync(binary, "utf8")).toContain("restarted"); // the previous script is back
  expect(readFileSync(join(dataDir, "layerline.sqlite"), "utf8")).toBe("database before the update");
  return readHandover(dataDir)!;
};

async function waitForMarker(ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!existsSync(marker) && Date.now() < deadline) await Bun.sleep(20);
  return existsSync(marker) ? readFileSync(marker, "utf8").trim() : null;
}

describe("the update watchdog", () => {
  test("a new version that dies before running its own code is rolled back and the previous one started", async () => {
    const trial = trialProcess();
    writeHandover(dataDir, handover({ process: trial.ref }));
    const dog = watchdog();
    await untilWatching();
    trial.proc.kill("SIGSEGV");
    expect(await dog.exited).toBe(0);
    const settled = rolledBack();
    expect(settled.phase).toBe("rolled-back");
    expect(settled.reason).toBe("Layerline 2.0.0 stopped before it could run any of its own code (it crashed or cannot run on this system)");
    expect(await waitForMarker()).toBe("serve --port 5000");
    expect(await new Response(dog.stderr).text()).toContain("started Layerline 1.0.0 again");
  }, 20_000);

  test("a failed self-test is rolled back with its reason", async () => {
    const trial = trialProcess();
    writeHandover(dataDir, handover({ process: trial.ref, stage: "waiting for the printers to reconnect" }));
    const dog = watchdog();
    await untilWatching();
    updateHandover(dataDir, { phase: "failed", reason: "the printer “Ender” did not reconnect" });
    trial.proc.kill();
    expect(await dog.exited).toBe(0);
    expect(rolledBack().reason).toBe("the printer “Ender” did not reconnect");
    expect(await waitForMarker()).not.toBeNull();
  }, 20_000);

  test("a new version that hangs past the deadline is killed and rolled back", async () => {
    const trial = trialProcess();
    writeHandover(dataDir, handover({ process: trial.ref, stage: "checking that the server answers", deadline: Date.now() + 800 }));
    const dog = watchdog();
    expect(await dog.exited).toBe(0);
    expect(trial.proc.signalCode).toBe("SIGKILL");
    expect(rolledBack().reason).toBe("Layerline 2.0.0 did not finish its self-test in time (it was checking that the server answers)");
  }, 20_000);

  test("stopped on purpose during the trial: rolled back, not started again", async () => {
    const trial = trialProcess();
    writeHandover(dataDir, handover({ process: trial.ref }));
    const dog = watchdog();
    await untilWatching();
    updateHandover(dataDir, { phase: "failed", reason: "Layerline 2.0.0 was stopped before its self-test finished", stopped: true });
    trial.proc.kill();
    expect(await dog.exited).toBe(0);
    rolledBack();
    expect(await waitForMarker(1_000)).toBeNull();
  }, 20_000);

  test("under a supervisor it rolls back and leaves the restart to it; SIGTERM finishes the rollback first", async () => {
    const trial = trialProcess();
    writeHandover(dataDir, handover({ process: trial.ref }));
    const dog = watchdog({ INVOCATION_ID: "systemd-unit" });
    await untilWatching();
    // systemd stopping the unit: the new version and the watchdog both get SIGTERM.
    trial.proc.kill("SIGTERM");
    dog.kill("SIGTERM");
    expect(await dog.exited).toBe(0);
    expect(rolledBack().phase).toBe("rolled-back");
    expect(await waitForMarker(1_000)).toBeNull();
  }, 20_000);

  test("a confirmed update is left alone", async () => {
    const trial = trialProcess();
    writeHandover(dataDir, handover({ process: trial.ref }));
    const dog = watchdog();
    await untilWatching();
    updateHandover(dataDir, { phase: "confirmed" });
    expect(await dog.exited).toBe(0);
    expect(existsSync(handoverFile(dataDir))).toBe(false);
    expect(readFileSync(binary, "utf8")).toBe("#!/bin/sh\nexit 0\n");
    expect(readFileSync(join(dataDir, "layerline.sqlite"), "utf8")).toBe("database as the new version left it");
    trial.proc.kill();
  }, 20_000);
});
