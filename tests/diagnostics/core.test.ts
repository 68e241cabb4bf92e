/**
 * The diagnosis' pure core: facts in, findings out — throttled bits, resend-ratio and disk
 * thresholds, permission cases, the processes that hold a port, the clock, connectivity,
 * Layerline's own state, the order findings are shown in, and the redaction of secrets.
 */
import { describe, expect, test } from "bun:test";
import { connectivityFindings, isOnline, type TargetResult } from "../../src/diagnostics/connectivity.ts";
import { finding, makeReport, sortFindings, type Finding } from "../../src/diagnostics/finding.ts";
import { formatReport } from "../../src/diagnostics/format.ts";
import { layerlineFindings, type LayerlineFacts } from "../../src/diagnostics/layerline.ts";
import { decodeThrottled, parseThrottled, powerFindings } from "../../src/diagnostics/power.ts";
import { REDACTED, redactText, redactValue, secretsIn } from "../../src/diagnostics/redact.ts";
import { adaptersFinding, holdersFinding, linkFinding, permissionFinding, serialFindings, type DeviceFacts, type Identity, type SerialPrinterFacts } from "../../src/diagnostics/serial.ts";
import { diskVerdict, storageFindings, type StorageFacts } from "../../src/diagnostics/storage.ts";
import { memoryVerdict, systemFindings, type SystemFacts } from "../../src/diagnostics/system.ts";
import { initialStatus } from "../../src/printers/status.ts";

const byId = (list: Finding[], id: string) => list.find((f) => f.id === id)!;
const MB = 1024 ** 2;
const GB = 1024 ** 3;

describe("Raspberry Pi throttled flags", () => {
  test.each([
    [0x0, [], []],
    [0x1, ["underVoltageNow"], []],
    [0x2, ["freqCappedNow"], []],
    [0x4, ["throttledNow"], []],
    [0x8, ["softTempLimitNow"], []],
    [0x50000, [], ["underVoltageSinceBoot", "throttledSinceBoot"]],
    [0x50005, ["underVoltageNow", "throttledNow"], ["underVoltageSinceBoot", "throttledSinceBoot"]],
    [0x80008, ["softTempLimitNow"], ["softTempLimitSinceBoot"]],
    [0xe0000, [], ["freqCappedSinceBoot", "throttledSinceBoot", "softTempLimitSinceBoot"]],
  ] as const)("0x%s decodes", (value, now, since) => {
    const flags = decodeThrottled(value);
    const set = Object.entries(flags).filter(([, on]) => on).map(([k]) => k).sort();
    expect(set).toEqual([...now, ...since].sort());
  });

  test.each([
    ["throttled=0x50005", 0x50005],
    ["50005\n", 0x50005],
    ["0x0", 0],
    ["throttled=0x0", 0],
    ["VCHI initialization failed", null],
    ["", null],
  ] as const)("%p parses as %p", (text, value) => expect(parseThrottled(text)).toBe(value));

  test("findings: not a Pi, a Pi without a source, under-voltage now, since boot, and fine", () => {
    expect(powerFindings({ model: null, throttled: null, error: null })[0]!.status).toBe("not-applicable");
    const noTool = powerFindings({ model: "Raspberry Pi 4 Model B Rev 1.4", throttled: null, error: null })[0]!;
    expect(noTool.status).toBe("unknown");
    expect(noTool.commands).toEqual(["sudo apt-get install libraspberrypi-bin"]);
    expect(powerFindings({ model: "Raspberry Pi 4", throttled: null, error: "VCHI initialization failed" })[0]!.status).toBe("unknown");

    const now = powerFindings({ model: "Raspberry Pi 4", throttled: { value: 0x50005, source: "vcgencmd get_throttled" }, error: null });
    expect(byId(now, "power.under-voltage").status).toBe("problem");
    expect(byId(now, "power.under-voltage").fix).toContain("power supply");
    expect(byId(now, "power.under-voltage").found).toContain("0x50005");
    expect(byId(now, "power.throttling").status).toBe("warning");
    expect(byId(now, "power.throttling").found).toContain("Low voltage");

    const before = powerFindings({ model: "Raspberry Pi 3", throttled: { value: 0x10000, source: "sysfs" }, error: null });
    expect(byId(before, "power.under-voltage").status).toBe("warning");
    expect(byId(before, "power.throttling").status).toBe("ok");

    const hot = powerFindings({ model: "Raspberry Pi 5", throttled: { value: 0x80008, source: "sysfs" }, error: null });
    expect(byId(hot, "power.under-voltage").status).toBe("ok");
    expect(byId(hot, "power.throttling").found).toContain("Heat");

    const fine = powerFindings({ model: "Raspberry Pi 4", throttled: { value: 0, source: "sysfs" }, error: null });
    expect(fine.map((f) => f.status)).toEqual(["ok", "ok"]);
  });
});

describe("link health from the resend ratio", () => {
  const link = (sent: number, resent: number, timeouts = 0) => ({ ...initialStatus("p").link, linesSent: sent, linesResent: resent, resendRatio: sent ? resent / sent : 0, timeouts });
  test.each([
    [0, 0, 0, "ok"],
    [150, 100, 0, "ok"], // too few lines to judge
    [1000, 10, 0, "ok"], // 1 %
    [1000, 20, 0, "ok"], // 2 %: at the threshold
    [1000, 21, 0, "warning"],
    [1000, 100, 0, "warning"], // 10 %: at the threshold
    [1000, 101, 0, "problem"],
    [10000, 2500, 0, "problem"],
    [1000, 0, 2, "warning"], // silences
  ] as const)("%d sent, %d resent, %d timeouts → %s", (sent, resent, timeouts, status) => {
    expect(linkFinding("p", "Ender", link(sent, resent, timeouts), 250000).status).toBe(status);
  });

  test("a bad link names the cable, EMI and the baud rate; no host: unknown", () => {
    const f = linkFinding("p", "Ender", link(1000, 150), 250000);
    expect(f.found).toContain("150 of 1000 lines (15 %)");
    expect(f.found).toMatch(/cable/);
    expect(f.found).toMatch(/noise/);
    expect(f.found).toContain("250000");
    expect(f.fix).toContain("115200");
    expect(linkFinding("p", "Ender", null, 115200).status).toBe("unknown");
  });
});

describe("disk space and the data folder", () => {
  test.each([
    [100 * MB, null, "problem"],
    [255 * MB, null, "problem"],
    [300 * MB, null, "warning"],
    [1023 * MB, null, "warning"],
    [1 * GB, null, "ok"],
    [1.5 * GB, 800 * MB, "warning"], // less than twice the largest file
    [700 * MB, 800 * MB, "problem"], // less than the largest file
    [2 * GB, 800 * MB, "ok"],
    [50 * GB, 10 * GB, "ok"],
  ] as const)("%d bytes free, largest file %p → %s", (free, largest, verdict) => expect(diskVerdict(free, largest)).toBe(verdict));

  const facts = (over: Partial<StorageFacts>): StorageFacts => ({ dataDir: "/var/lib/layerline", write: { ok: true }, mount: { point: "/", type: "ext4", readOnly: false }, free: 20 * GB, total: 30 * GB, largestFile: null, user: "pi", ...over });

  test("a read-only filesystem is a problem that names the SD card; found by the mount or the write", () => {
    for (const f of [facts({ mount: { point: "/", type: "ext4", readOnly: true } }), facts({ write: { ok: false, code: "EROFS", message: "read-only file system" } })]) {
      const w = byId(storageFindings(f), "storage.writable");
      expect(w.status).toBe("problem");
      expect(w.found).toContain("read-only");
      expect(w.found).toContain("SD card");
      expect(w.commands.join(" ")).toContain("tar czf ~/layerline-backup.tar.gz -C /var/lib layerline");
    }
  });

  test("full, not ours, missing, unknown", () => {
    expect(byId(storageFindings(facts({ write: { ok: false, code: "ENOSPC", message: "no space" } })), "storage.writable").found).toContain("full");
    const perm = byId(storageFindings(facts({ write: { ok: false, code: "EACCES", message: "denied" } })), "storage.writable");
    expect(perm.commands).toEqual(["sudo chown -R pi: /var/lib/layerline"]);
    expect(byId(storageFindings(facts({ write: { ok: false, code: "ENOENT", message: "no" } })), "storage.writable").found).toContain("does not exist");
    expect(byId(storageFindings(facts({ free: null })), "storage.space").status).toBe("unknown");
    const low = byId(storageFindings(facts({ free: 100 * MB, largestFile: 50 * MB })), "storage.space");
    expect(low.status).toBe("problem");
    expect(low.found).toContain("100 MB free");
  });
});

describe("permission to open the printer's port", () => {
  const device = (over: Partial<DeviceFacts> = {}): DeviceFacts => ({ path: "/dev/ttyUSB0", exists: true, realPath: "/dev/ttyUSB0", isCharDevice: true, mode: 0o660, uid: 0, gid: 20, group: "dialout", access: "denied", ...over });
  const pi = (over: Partial<Identity> = {}): Identity => ({ uid: 1000, user: "pi", gids: [1000, 27], listedIn: ["pi", "sudo"], ...over });

  test.each([
    ["may open it", device({ access: "ok" }), pi(), "ok", []],
    ["not in dialout", device(), pi(), "problem", ["sudo usermod -aG dialout pi"]],
    ["added to dialout, not logged in again", device(), pi({ listedIn: ["pi", "dialout"] }), "problem", []],
    ["a group without read and write", device({ mode: 0o600 }), pi(), "problem", ["sudo chgrp dialout /dev/ttyUSB0", "sudo chmod 660 /dev/ttyUSB0", "sudo usermod -aG dialout pi"]],
    ["another group (uucp)", device({ gid: 14, group: "uucp" }), pi(), "problem", ["sudo usermod -aG uucp pi"]],
    ["a user without a name", device(), pi({ user: null, listedIn: null }), "problem", ["sudo usermod -aG dialout $USER"]],
    ["access could not be checked", device({ access: "error" }), pi(), "unknown", []],
  ] as const)("%s", (_, d, identity, status, commands) => {
    const f = permissionFinding("ender", d, identity);
    expect(f.status).toBe(status);
    expect(f.commands).toEqual([...commands]);
  });

  test("the sentences say what to do: re-login after usermod", () => {
    const add = permissionFinding("ender", device(), pi());
    expect(add.found).toContain("crw-rw----");
    expect(add.found).toContain("pi is not in the dialout group");
    expect(add.fix).toContain("log out and in again");
    const relogin = permissionFinding("ender", device(), pi({ listedIn: ["dialout"] }));
    expect(relogin.found).toContain("was added to the dialout group, but this process started before that");
    expect(relogin.fix).toContain("Log out and in again");
  });
});

describe("who holds the port", () => {
  const printer = (holders: SerialPrinterFacts["holders"], realPath = "/dev/ttyUSB0", unreadable = 0): SerialPrinterFacts => ({
    id: "ender",
    name: "Ender",
    port: "/dev/ttyUSB0",
    baud: 115200,
    detected: null,
    state: null,
    device: { path: "/dev/ttyUSB0", exists: true, realPath, isCharDevice: true, mode: 0o660, uid: 0, gid: 20, group: "dialout", access: "ok" },
    holders,
    unreadableProcesses: unreadable,
    link: null,
  });
  const h = (pid: number, name: string, over: Partial<{ self: boolean; ptyMaster: boolean; command: string }> = {}) => ({ pid, name, command: over.command ?? name, self: over.self ?? false, ptyMaster: over.ptyMaster ?? false });

  test("ModemManager and brltty: named, with how to stop or remove them", () => {
    const mm = holdersFinding(printer([h(612, "ModemManager")]), "/dev/ttyUSB0");
    expect(mm.status).toBe("problem");
    expect(mm.found).toContain("ModemManager (pid 612)");
    expect(mm.commands).toContain("sudo systemctl disable --now ModemManager");
    const brl = holdersFinding(printer([h(700, "brltty")]), "/dev/ttyUSB0");
    expect(brl.commands).toEqual(["sudo apt-get remove brltty"]);
    expect(brl.found).toContain("CH340");
  });

  test("other programs: OctoPrint, a serial console, anything else", () => {
    expect(holdersFinding(printer([h(900, "python3", { command: "/home/pi/oprint/bin/python3 /home/pi/oprint/bin/octoprint serve" })]), "/dev/ttyUSB0").commands).toEqual(["sudo systemctl stop octoprint"]);
    expect(holdersFinding(printer([h(5, "agetty")], "/dev/ttyAMA0"), "/dev/serial0").commands).toEqual(["sudo systemctl disable --now serial-getty@ttyAMA0.service"]);
    const other = holdersFinding(printer([h(4242, "sleep"), h(1, "layerline", { self: true })]), "/dev/ttyUSB0");
    expect(other.status).toBe("problem");
    expect(other.found).toContain("sleep (pid 4242)");
    expect(other.found).not.toContain("layerline");
    expect(other.commands).toEqual(["kill 4242"]);
  });

  test("Layerline alone, nobody, the other end of a pty, unknown", () => {
    expect(holdersFinding(printer([h(1, "layerline", { self: true })]), "/dev/ttyUSB0").found).toContain("Only Layerline");
    expect(holdersFinding(printer([]), "/dev/ttyUSB0").status).toBe("ok");
    const pty = holdersFinding(printer([h(77, "socat", { ptyMaster: true })], "/dev/pts/3"), "/tmp/printer");
    expect(pty.status).toBe("ok");
    expect(pty.found).toContain("other end is socat (pid 77)");
    // On a real device, holding a pty master elsewhere makes no program the port's other end.
    expect(holdersFinding(printer([h(77, "socat", { ptyMaster: true })]), "/dev/ttyUSB0").status).toBe("problem");
    expect(holdersFinding(printer(null), "/dev/ttyUSB0").status).toBe("unknown");
    expect(holdersFinding(printer([], "/dev/ttyUSB0", 12), "/dev/ttyUSB0").status).toBe("unknown");
  });

  test("a missing device lists the adapters present and suggests the by-id path; adapters without a printer", () => {
    const missing: SerialPrinterFacts = { ...printer([]), device: { path: "/dev/ttyUSB0", exists: false, realPath: null, isCharDevice: false, mode: null, uid: null, gid: null, group: null, access: "missing" } };
    const adapters = [{ path: "/dev/ttyUSB1", byId: "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0", vendorId: "1a86", productId: "7523" }];
    const list = serialFindings({ identity: null, printers: [missing], adapters, grabbers: [] });
    const device = byId(list, "serial.ender.device");
    expect(device.status).toBe("warning");
    expect(device.found).toContain("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0 → /dev/ttyUSB1 (CH340)");
    expect(device.fix).toContain("by-id");
    expect(list.find((f) => f.id === "serial.ender.permission")).toBeUndefined();
    const none = adaptersFinding(adapters);
    expect(none.status).toBe("warning");
    expect(none.commands[0]).toContain("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0");
    expect(adaptersFinding([]).status).toBe("not-applicable");
    expect(adaptersFinding(null).status).toBe("unknown");
  });

  test("auto-detect: the port found, none found yet, or no host to find it", () => {
    const auto = (detected: string | null, state: string | null): SerialPrinterFacts => ({ ...printer([]), port: "auto", detected, state, device: null, holders: null });
    const found = serialFindings({ identity: null, printers: [auto("/dev/ttyACM0", "operational")], adapters: [], grabbers: [] });
    expect(byId(found, "serial.ender.device")).toMatchObject({ status: "ok", found: "Set to auto-detect; the printer was found on /dev/ttyACM0." });
    expect(byId(serialFindings({ identity: null, printers: [auto(null, "error")], adapters: [], grabbers: [] }), "serial.ender.device").status).toBe("warning");
    expect(byId(serialFindings({ identity: null, printers: [auto(null, null)], adapters: [], grabbers: [] }), "serial.ender.device").status).toBe("unknown");
  });

  test("programs known to take adapters, running while a serial printer is configured", () => {
    const list = serialFindings({ identity: null, printers: [printer([])], adapters: [], grabbers: [{ name: "brltty", pid: 321 }] });
    expect(byId(list, "serial.grabbers.brltty").status).toBe("warning");
    expect(serialFindings({ identity: null, printers: [], adapters: [], grabbers: [{ name: "brltty", pid: 321 }] }).some((f) => f.id.startsWith("serial.grabbers"))).toBe(false);
  });
});

describe("system", () => {
  const facts = (over: Partial<SystemFacts> = {}): SystemFacts => ({
    cpuTemp: { celsius: 50, zone: "cpu-thermal" },
    memory: { total: 4 * GB, available: 2 * GB },
    load: { one: 0.5, five: 0.4, fifteen: 0.3 },
    cores: 4,
    now: Date.UTC(2026, 10, 22),
    notBefore: Date.UTC(2026, 10, 1),
    synchronized: true,
    ...over,
  });
  test.each([
    [60, "ok"],
    [75, "warning"],
    [84.9, "warning"],
    [85, "problem"],
  ] as const)("%d °C → %s", (celsius, status) => expect(byId(systemFindings(facts({ cpuTemp: { celsius, zone: "cpu-thermal" } })), "system.temperature").status).toBe(status));

  test.each([
    [4 * GB, 2 * GB, "ok"],
    [4 * GB, 500 * MB, "warning"],
    [1 * GB, 140 * MB, "warning"],
    [4 * GB, 150 * MB, "problem"],
    [1 * GB, 40 * MB, "problem"],
  ] as const)("memory %d total, %d available → %s", (total, available, verdict) => expect(memoryVerdict(total, available)).toBe(verdict));

  test("a clock before the build is a problem that names TLS; not synchronised is a warning; nothing readable is unknown", () => {
    const clock = byId(systemFindings(facts({ now: Date.UTC(1970, 0, 1, 0, 1) })), "system.clock");
    expect(clock.status).toBe("problem");
    expect(clock.found).toContain("1970-01-01");
    expect(clock.found).toContain("certificates");
    expect(clock.commands).toContain("sudo timedatectl set-ntp true");
    expect(byId(systemFindings(facts({ synchronized: false })), "system.clock").status).toBe("warning");
    const none = systemFindings(facts({ cpuTemp: null, memory: null, load: null, synchronized: null }));
    expect(none.map((f) => f.status)).toEqual(["unknown", "unknown", "unknown", "ok"]);
    expect(byId(systemFindings(facts({ load: { one: 9, five: 9, fifteen: 9 } })), "system.load").status).toBe("warning");
  });
});

describe("connectivity", () => {
  const result = (over: Partial<TargetResult>): TargetResult => ({ purpose: "updates", url: "https://updates.example.org/stable/release.json", host: "updates.example.org", dns: { ok: true, addresses: ["192.0.2.1"] }, reach: { ok: true, status: 200, ms: 40 }, ...over });
  test("nothing configured: not applicable, and not online", () => {
    expect(connectivityFindings({ at: 0, results: [] })[0]!.status).toBe("not-applicable");
    expect(isOnline({ at: 0, results: [] })).toBeNull();
  });
  test("a name that does not resolve, a server that does not answer, a certificate a wrong clock breaks", () => {
    const dns = connectivityFindings({ at: 0, results: [result({ dns: { ok: false, error: "no such name" }, reach: null })] })[0]!;
    expect(dns.status).toBe("warning");
    expect(dns.commands).toContain("getent hosts updates.example.org");
    const down = connectivityFindings({ at: 0, results: [result({ reach: { ok: false, error: "no answer within 5 s", code: null } })] })[0]!;
    expect(down.found).toContain("did not answer: no answer within 5 s");
    const clock = connectivityFindings({ at: 0, results: [result({ reach: { ok: false, error: "certificate is not yet valid", code: "CERT_NOT_YET_VALID" } })] })[0]!;
    expect(clock.found).toContain("clock is probably wrong");
    expect(isOnline({ at: 0, results: [result({ reach: { ok: false, error: "x", code: null } }), result({ purpose: "plugin index" })] })).toBe(true);
    expect(isOnline({ at: 0, results: [result({ reach: null, dns: { ok: false, error: "x" } })] })).toBe(false);
  });
});

describe("Layerline itself", () => {
  const facts = (over: Partial<LayerlineFacts> = {}): LayerlineFacts => ({
    version: "1.2.0",
    host: { pid: 42, url: "http://127.0.0.1:5000", startedAt: 0 },
    update: { channel: "stable", url: null, checkHours: 24, lastCheck: null, lastResult: null },
    safeMode: { safe: false, reason: null, automatic: false },
    crashedStarts: null,
    plugins: [],
    restarts: [],
    ...over,
  });
  test("automatic safe mode is a problem, --safe a warning", () => {
    expect(byId(layerlineFindings(facts({ safeMode: { safe: true, reason: "Safe mode: the last 3 starts ended …", automatic: true } })), "layerline.safe-mode").status).toBe("problem");
    expect(byId(layerlineFindings(facts({ safeMode: { safe: true, reason: null, automatic: false } })), "layerline.safe-mode").status).toBe("warning");
  });
  test("plugins disabled by the host, failed or faulting; a restarted printer thread", () => {
    const list = layerlineFindings(
      facts({
        plugins: [
          { id: "good", state: "enabled", reason: null, faults: 0 },
          { id: "byuser", state: "disabled", reason: null, faults: 0 },
          { id: "hung", state: "disabled", reason: "its gcode hook never returned", faults: 3 },
          { id: "broken", state: "failed", reason: "SyntaxError", faults: 0 },
          { id: "flaky", state: "enabled", reason: null, faults: 2 },
        ],
        restarts: [{ printer: "ender", at: 0, kind: "restarted", message: "The printer's thread stopped answering" }],
      }),
    );
    expect(list.filter((f) => f.id.startsWith("layerline.plugin")).map((f) => f.id)).toEqual(["layerline.plugin.hung", "layerline.plugin.broken", "layerline.plugin.flaky"]);
    expect(byId(list, "layerline.plugin.hung").found).toContain("never returned");
    expect(byId(list, "layerline.restarts").status).toBe("warning");
  });
  test("scheduling priority: printers behind the web are a warning; raised, or above the web, ok; unknown, no finding", () => {
    const priority = (priorities: LayerlineFacts["priorities"]) => layerlineFindings(facts({ priorities })).find((f) => f.id === "layerline.priority");
    const behind = priority({ web: 10, printers: [{ printer: "ender", nice: -10 }, { printer: "added-later", nice: 10 }] })!;
    expect(behind.status).toBe("warning");
    expect(behind.found).toContain("added-later");
    expect(behind.found).not.toContain("ender");
    expect(behind.fix).toContain("LimitNICE");
    const raised = priority({ web: 10, printers: [{ printer: "ender", nice: -10 }] })!;
    expect(raised.status).toBe("ok");
    expect(raised.found).toContain("before the machine's other programs");
    const above = priority({ web: 10, printers: [{ printer: "ender", nice: 0 }] })!;
    expect(above.status).toBe("ok");
    expect(above.found).toContain("may not raise them");
    expect(priority(null)).toBeUndefined();
    expect(priority({ web: 10, printers: [{ printer: "ender", nice: null }] })).toBeUndefined();
  });
  test("an update undone, a failed check, starts that crashed without a host", () => {
    const rolled = layerlineFindings(facts({ update: { channel: "stable", url: "https://u/{channel}/r.json", checkHours: 24, lastCheck: null, lastResult: { outcome: "rolled-back", from: "1.1.0", to: "1.2.0", at: 0, reason: "the self-test failed", dismissed: false } } }));
    expect(byId(rolled, "layerline.update").status).toBe("warning");
    const failed = layerlineFindings(facts({ update: { channel: "stable", url: "https://u", checkHours: 24, lastCheck: { at: 0, url: "https://u", channel: "stable", error: { code: "unreachable", message: "The update server could not be reached.", hint: "Check the network." }, latest: null, verdict: null, unmet: [], migration: null, minimumVersion: null }, lastResult: null } }));
    expect(byId(failed, "layerline.update").fix).toBe("Check the network.");
    const crashed = layerlineFindings(facts({ host: null, safeMode: null, restarts: null, crashedStarts: { count: 2, suspects: ["bad-plugin"] } }));
    expect(byId(crashed, "layerline.crashed-starts").status).toBe("problem");
    expect(byId(crashed, "layerline.crashed-starts").found).toContain("bad-plugin");
    expect(byId(crashed, "layerline.restarts").status).toBe("unknown");
  });
});

test("problems first, then warnings, unknowns, ok, not applicable; counted", () => {
  const list = [
    finding("a", "layerline", "ok", "a", ""),
    finding("b", "system", "warning", "b", ""),
    finding("c", "power", "not-applicable", "c", ""),
    finding("d", "storage", "problem", "d", ""),
    finding("e", "serial", "problem", "e", ""),
    finding("f", "serial", "unknown", "f", ""),
  ];
  expect(sortFindings(list).map((f) => f.id)).toEqual(["e", "d", "b", "f", "a", "c"]);
  const report = makeReport(list, { at: 0, tookMs: 1, version: "1", source: "host" });
  expect(report.counts).toEqual({ problem: 2, warning: 1, unknown: 1, ok: 1, "not-applicable": 1 });
  const text = formatReport(report);
  expect(text.indexOf("PROBLEMS")).toBeLessThan(text.indexOf("WARNINGS"));
  expect(text).toContain("2 problems, 1 warning.");
});

describe("redaction", () => {
  const token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"; // 43 characters, like Layerline's keys
  test.each([
    ["http://camuser:campass@cam.local:8080/?action=stream", `http://${REDACTED}@cam.local:8080/?action=stream`],
    ["http://cam/snap.cgi?cmd=Snap&user=admin&pwd=hunter22", `http://cam/snap.cgi?cmd=Snap&user=${REDACTED}&pwd=${REDACTED}`],
    [`GET /api/job?apikey=${token}`, `GET /api/job?apikey=${REDACTED}`],
    [`Authorization: Bearer ${token}`, `Authorization: Bearer ${REDACTED}`],
    [`X-Api-Key: ${token}`, `X-Api-Key: ${REDACTED}`],
    ['{"password":"mqtt-secret"}', `{"password":"${REDACTED}"}`],
    [`key is ${token} here`, `key is ${REDACTED} here`],
    ["N12 G1 X10 Y20 E0.5*71", "N12 G1 X10 Y20 E0.5*71"],
    ["https://updates.example.org/stable/release.json", "https://updates.example.org/stable/release.json"],
  ])("%p", (input, output) => expect(redactText(input)).toBe(output));

  test("known values anywhere; secret fields; ids of the installation", () => {
    expect(redactText("connecting with pass w0rd!x to the broker", ["w0rd!x"])).toBe(`connecting with pass ${REDACTED} to the broker`);
    const value = redactValue({ "mqtt.config": { host: "mqtt.lan", username: "ll", password: "s3cret pass", passwordSet: true }, "tracking.instanceId": "x", nested: [{ token: "t0k3n" }], publicKey: "-----BEGIN PUBLIC KEY-----" }) as any;
    expect(value["mqtt.config"]).toEqual({ host: "mqtt.lan", username: "ll", password: REDACTED, passwordSet: true });
    expect(value.nested[0].token).toBe(REDACTED);
    expect(value.publicKey).toBe("-----BEGIN PUBLIC KEY-----");
    expect([...secretsIn({ mqtt: { password: "s3cret pass" }, cam: "http://u:campass@c/?token=abc123&user=admin" })].sort()).toEqual(["abc123", "campass", "s3cret pass"]);
  });
});
