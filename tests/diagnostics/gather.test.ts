/**
 * The adapters on this machine, for real: /proc scanned for a pty another process holds (socat's
 * pair, and a second program opening its end), device nodes stat'ed, a read-only and a full
 * tmpfs as the data folder (when this machine lets the tests mount), sysfs-style files, and the
 * connectivity probe against local servers, a closed port and a name that cannot resolve.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectivityFindings } from "../../src/diagnostics/connectivity.ts";
import { ConnectivityProbe, probe } from "../../src/diagnostics/gather/connectivity.ts";
import { gatherPowerFacts, piModel } from "../../src/diagnostics/gather/power.ts";
import { currentIdentity, scanProcesses } from "../../src/diagnostics/gather/proc.ts";
import { deviceFacts, gatherSerialFacts, type PrinterInput } from "../../src/diagnostics/gather/serial.ts";
import { gatherStorageFacts, mountOf } from "../../src/diagnostics/gather/storage.ts";
import { cpuTemperature, loadAverage, memory } from "../../src/diagnostics/gather/system.ts";
import { holdersFinding, serialFindings } from "../../src/diagnostics/serial.ts";
import { storageFindings } from "../../src/diagnostics/storage.ts";
import { DEFAULT_WINDOW, type PrinterRecord } from "../../src/printers/record.ts";
import { createPtyPair, type PtyPair } from "../helpers/pty.ts";

const dir = mkdtempSync(join(tmpdir(), "layerline-diag-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const record = (port: string): PrinterRecord => ({ id: "ender", name: "Ender", transport: "serial", port, baud: 115200, window: DEFAULT_WINDOW, autoconnect: true, isDefault: true, createdAt: 0 });
const isRoot = process.getuid?.() === 0;

/** Starts `argv` with the file at `path` open on fd 3 (bash opens it, then becomes the program). */
async function holding(path: string, argv: string[]): Promise<Bun.Subprocess> {
  const proc = Bun.spawn(["bash", "-c", `exec 3<>"$0"; exec "$@"`, path, ...argv], { stdout: "ignore", stderr: "ignore" });
  cleanups.push(() => (proc.kill(), proc.exited));
  // Until the program runs with the file open.
  const deadline = Date.now() + 5000;
  for (;;) {
    const comm = await Bun.file(`/proc/${proc.pid}/comm`).text().catch(() => "");
    if (comm.trim() === argv[0]!.split("/").pop()) return proc;
    if (Date.now() > deadline) throw new Error(`${argv[0]} did not start`);
    await Bun.sleep(20);
  }
}

describe("serial ports on this machine", () => {
  let pty: PtyPair;
  test("a pty another program holds is busy, named by that program; socat is its other end", async () => {
    pty = await createPtyPair();
    cleanups.push(() => pty.close());
    const inputs: PrinterInput[] = [{ record: record(pty.host) }];
    // Only socat, which made the pair, has it open: fine.
    const alone = await gatherSerialFacts(inputs, { selfPids: [process.pid] });
    const aloneFinding = holdersFinding(alone.printers[0]!, pty.host);
    expect(aloneFinding.status).toBe("ok");
    expect(aloneFinding.found).toMatch(/other end is socat \(pid \d+\)/);

    const thief = await holding(pty.host, ["sleep", "30"]);
    const facts = await gatherSerialFacts(inputs, { selfPids: [process.pid] });
    const p = facts.printers[0]!;
    expect(p.device?.realPath).toMatch(/^\/dev\/pts\/\d+$/);
    expect(p.holders?.map((h) => h.name).sort()).toEqual(["sleep", "socat"]);
    const busy = serialFindings(facts).find((f) => f.id === "serial.ender.busy")!;
    expect(busy.status).toBe("problem");
    expect(busy.found).toContain(`sleep (pid ${thief.pid}: sleep 30)`);
    expect(busy.commands).toEqual([`kill ${thief.pid}`]);

    // This process holding it is Layerline itself: expected.
    const self = await gatherSerialFacts(inputs, { selfPids: [process.pid, thief.pid] });
    expect(holdersFinding(self.printers[0]!, pty.host).status).toBe("ok");
  }, 20_000);

  test("the device exists, may be opened, and is no serial device when it is a plain file", async () => {
    pty = await createPtyPair();
    cleanups.push(() => pty.close());
    const d = deviceFacts(pty.host);
    expect(d).toMatchObject({ exists: true, isCharDevice: true, access: "ok" });
    expect(deviceFacts(join(dir, "nothing-here")).exists).toBe(false);
    const file = join(dir, "not-a-tty");
    writeFileSync(file, "");
    const facts = await gatherSerialFacts([{ record: record(file) }], { selfPids: [] });
    expect(serialFindings(facts).find((f) => f.id === "serial.ender.device")!.status).toBe("problem");
    const missing = await gatherSerialFacts([{ record: record("/dev/ttyUSB99") }], { selfPids: [] });
    expect(serialFindings(missing).find((f) => f.id === "serial.ender.device")!.status).toBe("warning");
  });

  test.skipIf(!isRoot)("a device node's mode, owner and group are read as they are", () => {
    const node = join(dir, "ttyFAKE0");
    const made = Bun.spawnSync(["mknod", node, "c", "1", "3"]); // the same device as /dev/null
    expect(made.exitCode).toBe(0);
    chmodSync(node, 0o620);
    chownSync(node, 0, 20);
    const d = deviceFacts(node);
    expect(d).toMatchObject({ exists: true, isCharDevice: true, mode: 0o620, uid: 0, gid: 20 });
    expect(d.group).toBe("dialout");
    // Root may open anything: the kernel's answer, not a guess from the bits.
    expect(d.access).toBe("ok");
  });

  test("the scan sees this process, its name and who it runs as", async () => {
    const scan = await scanProcesses([]);
    expect(scan.processes.find((p) => p.pid === process.pid)?.name).toBeTruthy();
    const me = currentIdentity();
    expect(me.uid).toBe(process.getuid!());
    expect(me.gids).toContain(process.getgid!());
  });

  test("an unreadable /proc is an unknown holder, never a crash", async () => {
    const facts = await gatherSerialFacts([{ record: record("/dev/null") }], { selfPids: [], procRoot: join(dir, "no-proc") });
    expect(facts.printers[0]!.holders).toBeNull();
    expect(holdersFinding(facts.printers[0]!, "/dev/null").status).toBe("unknown");
  });
});

describe("storage", () => {
  test("this machine's data folder: writable, its mount and free space read", () => {
    const facts = gatherStorageFacts(dir, null, "root");
    expect(facts.write).toEqual({ ok: true });
    expect(facts.mount).not.toBeNull();
    expect(facts.free).toBeGreaterThan(0);
    expect(mountOf("/")?.point).toBe("/");
  });

  // Mounting needs root (or a user namespace); elsewhere the same cases are covered at the pure level.
  const canMount = isRoot && (() => {
    const probeDir = join(dir, "can-mount");
    mkdirSync(probeDir, { recursive: true });
    const ok = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probeDir]).exitCode === 0;
    if (ok) Bun.spawnSync(["umount", probeDir]);
    return ok;
  })();

  test.skipIf(!canMount)("a read-only tmpfs is reported read-only, a full one full", () => {
    const ro = join(dir, "ro");
    mkdirSync(ro);
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", ro]).exitCode).toBe(0);
    cleanups.push(() => Bun.spawnSync(["umount", ro]));
    const roFacts = gatherStorageFacts(ro, null, "root");
    expect(roFacts.mount).toEqual({ point: ro, type: "tmpfs", readOnly: true });
    expect(roFacts.write).toMatchObject({ ok: false, code: "EROFS" });
    expect(storageFindings(roFacts)[0]!.status).toBe("problem");

    const full = join(dir, "full");
    mkdirSync(full);
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", full]).exitCode).toBe(0);
    cleanups.push(() => Bun.spawnSync(["umount", full]));
    Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(full, "fill")}`, "bs=4k", "count=1000"]);
    const fullFacts = gatherStorageFacts(full, 100 * 1024, "root");
    expect(fullFacts.free).toBe(0);
    const [writable, space] = storageFindings(fullFacts);
    expect(writable!.found).toContain("full");
    expect(space!.status).toBe("problem");
  });
});

describe("system and power files", () => {
  test("meminfo and loadavg are read; thermal zones and throttled flags from files laid out as sysfs", async () => {
    expect(memory()!.total).toBeGreaterThan(0);
    expect(loadAverage()).not.toBeNull();
    const thermal = join(dir, "thermal");
    for (const [zone, type, temp] of [["thermal_zone0", "cpu-thermal", "71234"], ["thermal_zone1", "gpu-thermal", "90000"], ["thermal_zone2", "acpitz", "garbage"]]) {
      mkdirSync(join(thermal, zone!), { recursive: true });
      writeFileSync(join(thermal, zone!, "type"), `${type}\n`);
      writeFileSync(join(thermal, zone!, "temp"), `${temp}\n`);
    }
    expect(cpuTemperature(thermal)).toEqual({ celsius: 71.234, zone: "cpu-thermal" });
    expect(cpuTemperature(join(dir, "no-thermal"))).toBeNull();

    const flags = join(dir, "get_throttled");
    writeFileSync(flags, "50005\n");
    expect(await gatherPowerFacts({ sysfs: flags })).toMatchObject({ throttled: { value: 0x50005, source: flags } });
    writeFileSync(flags, "nonsense");
    expect((await gatherPowerFacts({ sysfs: flags })).error).toContain("nonsense");
    // No flags file and no vcgencmd: nothing to read.
    expect(await gatherPowerFacts({ sysfs: join(dir, "none"), vcgencmd: null })).toMatchObject({ throttled: null, error: null });
    // A vcgencmd that fails (as it does for a user outside the video group) is an error, not flags.
    const tool = join(dir, "vcgencmd");
    writeFileSync(tool, "#!/bin/sh\necho 'VCHI initialization failed' >&2\nexit 255\n");
    chmodSync(tool, 0o755);
    expect((await gatherPowerFacts({ sysfs: join(dir, "none"), vcgencmd: tool })).error).toContain("VCHI initialization failed");
    // This machine.
    if (piModel() === null) expect((await gatherPowerFacts()).model).toBeNull();
  });
});

describe("connectivity probe", () => {
  test("a server that answers, a closed port, a name that does not resolve; results are kept", async () => {
    let hits = 0;
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (hits++, new Response("nope", { status: 404 })) });
    cleanups.push(() => server.stop(true));
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
    const closedPort = closed.port;
    closed.stop(true);

    const up = await probe({ purpose: "updates", url: `http://127.0.0.1:${server.port}/stable/release.json` });
    expect(up.reach).toMatchObject({ ok: true, status: 404 });
    const down = await probe({ purpose: "plugin index", url: `http://127.0.0.1:${closedPort}/plugins.json` });
    expect(down.reach?.ok).toBe(false);
    const nowhere = await probe({ purpose: "usage statistics", url: "https://layerline-diagnostics-test.invalid/" });
    expect(nowhere.dns.ok).toBe(false);
    expect(nowhere.reach).toBeNull();
    expect(connectivityFindings({ at: 0, results: [up, down, nowhere] }).map((f) => f.status)).toEqual(["ok", "warning", "warning"]);

    let now = 1000;
    const targets = [{ purpose: "updates" as const, url: `http://127.0.0.1:${server.port}/r.json` }];
    const cached = new ConnectivityProbe(() => targets, { now: () => now, freshMs: 60_000 });
    hits = 0;
    const [a, b] = await Promise.all([cached.check(), cached.check()]);
    expect(a).toBe(b);
    expect(hits).toBe(1);
    await cached.check();
    expect(hits).toBe(1);
    now += 61_000;
    await cached.check();
    expect(hits).toBe(2);
    await cached.check(0);
    expect(hits).toBe(3);
  });
});
