/**
 * Installs what the test suite needs on a Debian machine, only where missing:
 * socat (pty pairs), chromium (browser tests), qemu-user + libc6-arm64-cross (the arm64 binary),
 * mosquitto (the MQTT bridge's tests run a real broker),
 * ffmpeg (a camera without a camera: test MJPEG streams, timelapse renders).
 * Part of the README's test command; safe to run again.
 */
import { existsSync } from "node:fs";

const NEEDS: { check: () => boolean; packages: string[]; why: string }[] = [
  { check: () => !!Bun.which("socat"), packages: ["socat"], why: "pty pairs for the serial tests" },
  { check: () => existsSync("/usr/bin/chromium"), packages: ["chromium"], why: "the browser tests" },
  { check: () => !!Bun.which("qemu-aarch64"), packages: ["qemu-user"], why: "running the arm64 binary" },
  { check: () => existsSync("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1"), packages: ["libc6-arm64-cross"], why: "the arm64 C library for qemu" },
  { check: () => existsSync("/usr/sbin/mosquitto") || !!Bun.which("mosquitto"), packages: ["mosquitto"], why: "a real MQTT broker for the MQTT bridge tests" },
  { check: () => !!Bun.which("ffmpeg") && !!Bun.which("ffprobe"), packages: ["ffmpeg"], why: "test cameras and timelapse renders" },
];

const missing = NEEDS.filter((n) => !n.check());
if (missing.length === 0) process.exit(0);

const packages = missing.flatMap((n) => n.packages);
console.log(`Installing ${packages.join(", ")} (${missing.map((n) => n.why).join("; ")})`);
const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const install = () => Bun.spawnSync([...sudo, "apt-get", "install", "-y", "--no-install-recommends", ...packages], { stdout: "inherit", stderr: "inherit", env });
let result = install();
if (result.exitCode !== 0) {
  // A fresh machine may have stale package lists.
  Bun.spawnSync([...sudo, "apt-get", "update"], { stdout: "inherit", stderr: "inherit", env });
  result = install();
}
if (result.exitCode !== 0) {
  console.error(`Could not install ${packages.join(", ")}; install them with apt-get and run the tests again.`);
  process.exit(1);
}
