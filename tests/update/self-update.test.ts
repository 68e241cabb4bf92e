/**
 * Self-update end to end with real builds: v1 and v2 compiled by build.ts with different
 * versions, served by a release server on loopback, v1 running from a temp folder.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTarget } from "../../build.ts";
import { migrations } from "../../src/db/migrations/index.ts";
import { sha256File } from "../../src/update/download.ts";
import { buildVariant, manifestFor, ReleaseServer, runBinary, startBinary, stopProcessesUnder, throwawayKey, type KeyPair, type RunningBinary } from "./helpers.ts";

let dir: string;
let key: KeyPair;
let server: ReleaseServer;
let v1: string;
let v2: string;
let v2BadMigration: string;
let v1Hash: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "layerline-update-"));
  key = throwawayKey(dir);
  server = new ReleaseServer();
  [v1, v2, v2BadMigration] = await Promise.all([
    buildTarget("x64", { outfile: join(dir, "build", "v1", "layerline-linux-x64"), version: "1.0.0" }),
    buildTarget("x64", { outfile: join(dir, "build", "v2", "layerline-linux-x64"), version: "2.0.0" }),
    // A release whose second new migration fails: it leaves the database half migrated (schema 2).
    buildVariant(join(dir, "build", "v2-bad", "layerline-linux-x64"), "2.0.1", (root) =>
      appendFileSync(
        join(root, "src/db/migrations/index.ts"),
        `\nmigrations.push("CREATE TABLE v2_only (x INTEGER); INSERT INTO v2_only VALUES (1);", "INSERT INTO no_such_table VALUES (1);");\n`,
      ),
    ),
  ]);
  v1Hash = await sha256File(v1);
}, 180_000);

afterAll(async () => {
  server?.stop();
  if (dir) {
    await stopProcessesUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

const start = (host: RunningBinary, url: string) => host.post("/api/v1/update/start", { url });
const leftovers = (host: RunningBinary) => readdirSync(host.dir).filter((f) => f.startsWith(".layerline-download-") || f.endsWith(".previous"));

describe("an update from v1 to v2", () => {
  test("from the UI, v1 downloads, verifies, swaps and re-executes into v2, which passes its self-test and answers", async () => {
    const url = server.publish("good", await manifestFor(v2, { version: "2.0.0", key: key.privateKey, notes: "Faster uploads." }), { file: v2 });
    const host = await runBinary(dir, v1, ["--update-public-key", key.publicKeyFile]);
    // The virtual printer is connected: the self-test must see it connected again.
    await host.waitFor("/api/v1/printers", (b) => b.printers[0].state === "operational", 30_000);

    const check = await (await host.post("/api/v1/update/check", { url })).json();
    expect(check.check).toMatchObject({ verdict: "update", latest: { version: "2.0.0", notes: "Faster uploads." } });
    const notice = await (await host.api("/ui/update/notice")).text();
    expect(notice).toContain("Layerline 2.0.0 is available");
    expect(notice).toContain("Faster uploads.");

    // The dashboard's "Update now" button (the configured source, as the periodic check uses).
    expect((await host.api("/api/v1/update/settings", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ url }) })).status).toBe(200);
    const started = await host.api("/ui/update/start", { method: "POST" });
    expect(started.status).toBe(200);
    expect(await started.text()).toContain("Downloading Layerline 2.0.0");
    const done = await host.waitFor("/api/v1/update", (s) => s.version === "2.0.0" && s.lastResult?.outcome === "updated");
    expect(done.lastResult).toMatchObject({ from: "1.0.0", to: "2.0.0", reason: null });
    expect(done.pid).toBe(host.proc.pid); // re-executed in place: same process for a supervisor
    expect(host.proc.exitCode).toBeNull();
    expect((await (await host.api("/api/v1/version")).json()).version).toBe("2.0.0");
    const printers = await host.waitFor("/api/v1/printers", (b) => b.printers[0].state === "operational" && b.printers[0].firmware !== null);
    expect(printers.printers[0].firmware.name).toContain("Marlin");

    // The previous binary is kept, the new one is in place, the handover is settled.
    expect(await sha256File(host.binary)).toBe(await sha256File(v2));
    expect(await sha256File(`${host.binary}.previous`)).toBe(v1Hash);
    expect(existsSync(join(host.dataDir, "update", "handover.json"))).toBe(false);
    expect(readdirSync(host.dir).filter((f) => f.startsWith(".layerline-download-"))).toEqual([]);
    const log = await host.logText();
    expect(log).toContain("Restarting into Layerline 2.0.0");
    expect(log).toContain("passed its self-test");
    expect(await (await host.api("/ui/update/notice")).text()).toContain("Updated to Layerline 2.0.0");
    await host.stop();
  }, 120_000);
});

describe("never during a print", () => {
  test("`layerline update` asks the running host, which waits for the print to end, then updates", async () => {
    const url = server.publish("during-print", await manifestFor(v2, { version: "2.0.0", key: key.privateKey, notes: "Print-safe." }), { file: v2 });
    const host = await runBinary(dir, v1, ["--update-public-key", key.publicKeyFile]);
    await host.waitFor("/api/v1/printers", (b) => b.printers[0].state === "operational", 30_000);
    // About six seconds of moves for the virtual printer (run 4× faster than real time).
    const form = new FormData();
    form.append("file", new Blob(["G28\nG1 X60 F300\nG1 X0 F300\nM400\n"]), "slow.gcode");
    expect((await host.api("/api/v1/files", { method: "POST", body: form })).status).toBe(201);
    const id = (await (await host.api("/api/v1/printers")).json()).printers[0].id;
    expect((await host.post(`/api/v1/printers/${id}/job`, { file: "slow.gcode" })).status).toBeLessThan(300);
    await host.waitFor(`/api/v1/printers/${id}`, (p) => p.state === "printing");

    const cli = Bun.spawn([host.binary, "update", "--data-dir", host.dataDir, "--url", url], { stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: host.dir } });
    const waiting = await host.waitFor("/api/v1/update", (s) => s.job.state === "waiting-for-print" || s.version === "2.0.0");
    expect(waiting.job).toMatchObject({ state: "waiting-for-print", version: "2.0.0" });
    expect((await (await host.api(`/api/v1/printers/${id}`)).json()).state).toBe("printing");
    expect(await (await host.api("/ui/update/notice")).text()).toContain("as soon as the print on Virtual printer ends");

    // The print runs to its end on v1; only then does the host restart into v2.
    let printDoneOnV1 = false;
    while (cli.exitCode === null) {
      try {
        const [printer, update] = await Promise.all([host.api(`/api/v1/printers/${id}`).then((r) => r.json()), host.api("/api/v1/update").then((r) => r.json())]);
        if (update.version === "1.0.0" && printer.job?.state === "done") printDoneOnV1 = true;
        if (update.version === "1.0.0" && !printDoneOnV1) expect(update.job.state).toBe("waiting-for-print");
      } catch {
        // restarting
      }
      await Bun.sleep(40);
    }
    expect(printDoneOnV1).toBe(true);
    expect(await cli.exited).toBe(0);
    const out = await new Response(cli.stdout).text();
    expect(out).toContain("Updating to Layerline 2.0.0");
    expect(out).toContain("Print-safe.");
    expect(out).toContain("Waiting for the print on Virtual printer to end");
    expect(out).toContain("Layerline 2.0.0 is running and passed its self-test.");
    expect((await (await host.api("/api/v1/update")).json()).version).toBe("2.0.0");
    await host.stop();
  }, 120_000);
});

describe("`layerline update` with no host running", () => {
  test("replaces the binary with a progress bar; the next start self-tests the new version", async () => {
    const url = server.publish("offline", await manifestFor(v2, { version: "2.0.0", key: key.privateKey, notes: "Offline notes." }), { file: v2 });
    const home = mkdtempSync(join(dir, "offline-"));
    const binary = join(home, "layerline");
    cpSync(v1, binary);
    const dataDir = join(home, "data");
    // Asynchronous: the release server runs in this process.
    const run = async (...args: string[]) => {
      const proc = Bun.spawn([binary, ...args], { cwd: home, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: home } });
      const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { stdout, stderr, exitCode };
    };

    const tampered = new Uint8Array(await Bun.file(v2).arrayBuffer());
    tampered[1000]! ^= 1;
    const bad = await run("update", "--data-dir", dataDir, "--update-public-key", key.publicKeyFile, "--url", server.publish("offline-bad", await manifestFor(v2, { version: "2.0.0", key: key.privateKey }), { bytes: tampered }));
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain("does not match the signed manifest");
    expect(await sha256File(binary)).toBe(v1Hash);
    expect(readdirSync(home).sort()).toEqual(["layerline"]);

    const check = await run("update", "--check", "--data-dir", dataDir, "--update-public-key", key.publicKeyFile, "--url", url);
    expect(check.stdout).toContain("Layerline 2.0.0 is available (this is 1.0.0)");
    expect(await sha256File(binary)).toBe(v1Hash);

    const r = await run("update", "--data-dir", dataDir, "--update-public-key", key.publicKeyFile, "--url", url);
    const out = r.stdout;
    expect(r.exitCode).toBe(0);
    expect(out).toContain("Updating Layerline 1.0.0 → 2.0.0");
    expect(out).toContain("Offline notes.");
    expect(out).toMatch(/\[#{30}\] 100%/); // not a TTY: one progress line per tenth
    expect(out).toContain("size, sha256 and signature verified");
    expect(out).toContain("Installed Layerline 2.0.0");
    expect(await sha256File(binary)).toBe(await sha256File(v2));
    expect(await sha256File(`${binary}.previous`)).toBe(v1Hash);

    const host = await startBinary(binary, dataDir);
    const status = await host.waitFor("/api/v1/update", (st) => st.lastResult !== null);
    expect(status).toMatchObject({ version: "2.0.0", lastResult: { outcome: "updated", from: "1.0.0", to: "2.0.0" } });
    await host.stop();
  }, 120_000);

  test("Ctrl-C during a download that stalls leaves nothing behind; a host started meanwhile is refused", async () => {
    const url = server.publish("offline-stall", await manifestFor(v2, { version: "2.0.0", key: key.privateKey }), { file: v2, stallAt: 1_000_000 });
    const home = mkdtempSync(join(dir, "offline-stall-"));
    const binary = join(home, "layerline");
    cpSync(v1, binary);
    const proc = Bun.spawn([binary, "update", "--data-dir", join(home, "data"), "--update-public-key", key.publicKeyFile, "--url", url], { cwd: home, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: home } });
    const stderr = new Response(proc.stderr).text();
    const downloading = () => readdirSync(home).some((f) => f.startsWith(".layerline-download-"));
    for (const deadline = Date.now() + 30_000; !downloading() && Date.now() < deadline; ) await Bun.sleep(50);
    expect(downloading()).toBe(true);
    // The update holds the data folder: a host started now is refused, not swapped under.
    const host = Bun.spawn([binary, "--port", "0", "--host", "127.0.0.1", "--data-dir", join(home, "data")], { cwd: home, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: home } });
    const refused = await Promise.race([host.exited, Bun.sleep(20_000).then(() => null)]);
    if (refused === null) host.kill("SIGKILL");
    expect(refused).toBe(1);
    expect(await new Response(host.stderr).text()).toContain(`is being updated (layerline update, process ${proc.pid}). Start it again once the update has ended`);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(1);
    expect(await stderr).toContain("error: The update was interrupted; nothing was installed.");
    expect(readdirSync(home).sort()).toEqual(["layerline"]);
    expect(await sha256File(binary)).toBe(v1Hash);
  }, 60_000);
});

describe("refused downloads leave everything untouched", () => {
  let host: RunningBinary;
  beforeAll(async () => {
    host = await runBinary(dir, v1, ["--update-public-key", key.publicKeyFile]);
  }, 60_000);
  afterAll(() => host?.stop());

  /** Starts the update and waits for it to fail; returns the error. */
  async function refused(url: string) {
    const res = await start(host, url);
    if (res.status !== 202) return (await res.json()).error;
    const status = await host.waitFor("/api/v1/update", (s) => s.job.state === "failed");
    return status.job.error;
  }

  async function expectUntouched() {
    expect(await sha256File(host.binary)).toBe(v1Hash);
    expect(leftovers(host)).toEqual([]);
    expect(existsSync(join(host.dataDir, "update", "handover.json"))).toBe(false);
    const version = await (await host.api("/api/v1/version")).json();
    expect(version.version).toBe("1.0.0");
    expect(host.proc.exitCode).toBeNull();
  }

  test("a tampered binary (one byte changed after signing)", async () => {
    const bytes = new Uint8Array(await Bun.file(v2).arrayBuffer());
    bytes[bytes.length >> 1]! ^= 0xff;
    const url = server.publish("tampered", await manifestFor(v2, { version: "2.0.0", key: key.privateKey }), { bytes });
    const error = await refused(url);
    expect(error.code).toBe("hash_mismatch");
    expect(error.message).toContain("does not match the signed manifest");
    expect(error.message).toContain("Nothing was installed");
    await expectUntouched();
  }, 60_000);

  test("a manifest with a wrong hash", async () => {
    const url = server.publish("wrong-hash", await manifestFor(v2, { version: "2.0.0", key: key.privateKey, sha256: "0".repeat(64) }), { file: v2 });
    const error = await refused(url);
    expect(error.code).toBe("hash_mismatch");
    await expectUntouched();
  }, 60_000);

  test("a manifest changed after signing, and one signed by another key", async () => {
    const signed = await manifestFor(v2, { version: "2.0.0", key: key.privateKey });
    const altered = { ...signed, manifest: { ...signed.manifest, notes: "Same binary, new words." } };
    const changed = await refused(server.publish("altered", altered, { file: v2 }));
    expect(changed.code).toBe("bad_signature");
    expect(changed.message).toContain("changed after it was signed");

    const other = throwawayKey(dir);
    const foreign = await refused(server.publish("foreign", await manifestFor(v2, { version: "2.0.0", key: other.privateKey }), { file: v2 }));
    expect(foreign.code).toBe("bad_signature");
    expect(foreign.message).toMatch(/signed by key [0-9a-f]{16}, but this host trusts key [0-9a-f]{16}/);
    expect(foreign.hint).toContain("--update-public-key");
    await expectUntouched();
  }, 60_000);

  test("a truncated download", async () => {
    const url = server.publish("truncated", await manifestFor(v2, { version: "2.0.0", key: key.privateKey }), { file: v2, truncateAt: 5_000_000 });
    const error = await refused(url);
    expect(["size_mismatch", "fetch_failed"]).toContain(error.code);
    expect(error.message).toMatch(/truncated|broke off/);
    expect(error.message).toContain("Nothing was installed");
    await expectUntouched();
  }, 60_000);
});

describe("automatic rollback", () => {
  test("a v2 whose migration fails is rolled back to v1 with the database as it was", async () => {
    const url = server.publish("bad-migration", await manifestFor(v2BadMigration, { version: "2.0.1", key: key.privateKey }), { file: v2BadMigration });
    const host = await runBinary(dir, v1, ["--update-public-key", key.publicKeyFile]);
    // Data written by v1 that must survive.
    const added = await host.post("/api/v1/printers", { name: "Ender 3", transport: "serial", port: "/dev/ttyNOPE9", baud: 115200, autoconnect: false });
    expect(added.status).toBe(201);
    expect((await start(host, url)).status).toBe(202);

    const back = await host.waitFor("/api/v1/update", (s) => s.lastResult?.outcome === "rolled-back", 90_000);
    expect(back.version).toBe("1.0.0");
    expect(back.lastResult.to).toBe("2.0.1");
    expect(back.lastResult.reason).toContain("could not start");
    expect(back.lastResult.reason).toContain("no_such_table");
    // The restarted v1 is a new process started by the watchdog (no supervisor here).
    expect(back.pid).not.toBe(host.proc.pid);
    expect(await host.proc.exited).not.toBe(0);

    // The binary and the database are v1's again; v1's data is intact.
    expect(await sha256File(host.binary)).toBe(v1Hash);
    expect(await sha256File(`${host.binary}.failed`)).toBe(await sha256File(v2BadMigration));
    const printers = (await (await host.api("/api/v1/printers")).json()).printers.map((p: { name: string }) => p.name);
    expect(printers).toContain("Ender 3");
    const db = new Database(join(host.dataDir, "layerline.sqlite"), { readonly: true });
    expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(migrations.length);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'v2_only'").get()).toBeNull();
    db.close();

    // The user is told why, and 2.0.1 is not offered again.
    const notice = await (await host.api("/ui/update/notice")).text();
    expect(notice).toContain("The update to Layerline 2.0.1 failed and was undone");
    expect(notice).toContain("no_such_table");
    const again = await start(host, url);
    expect(again.status).toBe(409);
    expect((await again.json()).error.message).toContain("rolled back");
    process.kill(back.pid, "SIGTERM");
  }, 150_000);

  test("a v2 that dies before running any code of its own is rolled back by the previous binary", async () => {
    // A "release" that passes the pre-install check (--version) but crashes as soon as it is started for real.
    const crashing = join(dir, "build", "crashing");
    writeFileSync(crashing, '#!/bin/sh\nif [ "$1" = "--version" ]; then echo 3.0.0; exit 0; fi\necho "crashing at start" >&2\nkill -SEGV $$\n');
    chmodSync(crashing, 0o755);
    const url = server.publish("crashing", await manifestFor(crashing, { version: "3.0.0", key: key.privateKey }), { file: crashing });
    const host = await runBinary(dir, v1, ["--update-public-key", key.publicKeyFile]);
    expect((await start(host, url)).status).toBe(202);

    const back = await host.waitFor("/api/v1/update", (s) => s.lastResult?.outcome === "rolled-back", 90_000);
    expect(back.version).toBe("1.0.0");
    expect(back.lastResult.reason).toContain("stopped before it could run any of its own code");
    expect(await sha256File(host.binary)).toBe(v1Hash);
    const log = await host.logText();
    expect(log).toContain("crashing at start");
    expect(log).toContain("rolled back to 1.0.0");
    process.kill(back.pid, "SIGTERM");
  }, 150_000);
});
