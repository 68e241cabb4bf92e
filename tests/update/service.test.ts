/**
 * `layerline service install`: the systemd unit it writes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemdUnit } from "../../src/update/service.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "layerline-service-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("layerline service install", () => {
  test("writes a unit that restarts on failure and on the update exit code, and prints the systemctl commands", () => {
    const binary = join(dir, "layerline");
    writeFileSync(binary, "#!/bin/sh\n");
    chmodSync(binary, 0o755);
    const path = join(dir, "layerline.service");
    const r = Bun.spawnSync(["bun", MAIN, "service", "install", "--path", path, "--binary", binary, "--data-dir", join(dir, "data"), "--port", "8080", "--serial", "/dev/ttyUSB0", "--baud", "250000"]);
    expect(r.exitCode).toBe(0);
    const unit = readFileSync(path, "utf8");
    expect(unit).toContain(`ExecStart=${binary} serve --port 8080 --host 0.0.0.0 --data-dir ${join(dir, "data")} --serial /dev/ttyUSB0 --baud 250000`);
    expect(unit).toContain(`User=${Bun.spawnSync(["id", "-un"]).stdout.toString().trim()}`);
    expect(unit).toContain("Restart=on-failure");
    expect(unit).toContain("RestartForceExitStatus=75");
    expect(unit).toContain("KillMode=control-group");
    expect(unit).toContain("SupplementaryGroups=dialout");
    expect(unit).toContain("LimitNICE=-10"); // the printers' threads may raise their priority (src/printers/priority.ts)
    expect(unit).toContain("WantedBy=multi-user.target");
    const out = r.stdout.toString();
    expect(out).toContain(`Wrote ${path}`);
    expect(out).toContain("sudo systemctl daemon-reload");
    expect(out).toContain("sudo systemctl enable --now layerline.service");
    expect(out).toContain("journalctl -u layerline.service");

    // systemd itself accepts it, where systemd-analyze is installed.
    if (Bun.which("systemd-analyze")) {
      const verify = Bun.spawnSync(["systemd-analyze", "verify", path]);
      expect(verify.stderr.toString()).not.toMatch(/Unknown (key|section)|Failed to parse|Invalid/i);
    }
  }, 20_000);

  test("paths and arguments are quoted and escaped for systemd", () => {
    const unit = systemdUnit({ binary: "/opt/my layerline/layerline", user: "pi", dataDir: "/var/lib/layerline", port: 5000, host: "0.0.0.0", serial: "/dev/serial/by-id/usb-100%_$HOME", extraPorts: "/dev/printer*,/run/k [1]/*" });
    expect(unit).toContain('ExecStart="/opt/my layerline/layerline" serve');
    expect(unit).toContain(`--extra-ports "/dev/printer*,/run/k [1]/*"`);
    expect(unit).toContain(`--serial "/dev/serial/by-id/usb-100%%_$$HOME"`);
    expect(unit).toContain("StateDirectory=layerline");
  });

  test("a user that does not exist is refused before a unit is written", () => {
    const path = join(dir, "nobody-here.service");
    for (const user of ["no-such-user-7f3a", "no body"]) {
      const r = Bun.spawnSync(["bun", MAIN, "service", "install", "--path", path, "--binary", "/bin/true", "--user", user]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.toString()).toContain(`--user: there is no user "${user}" on this system.`);
      expect(existsSync(path)).toBe(false);
    }
  }, 20_000);

  test("an unwritable unit path and a wrong command are explained", () => {
    const r = Bun.spawnSync(["bun", MAIN, "service", "install", "--path", join(dir, "no", "such", "dir", "x.service"), "--binary", "/bin/true"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("Cannot write");
    const wrong = Bun.spawnSync(["bun", MAIN, "service", "remove"]);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr.toString()).toContain('Unknown service command "remove"');
  }, 20_000);
});
