/**
 * The system this host runs on (kernel, C library, CPU features) and whether a release's
 * requirements are met. Detection is the thin shell; `unmetRequirements` is a pure function.
 */
import { readFileSync } from "node:fs";
import { release, userInfo } from "node:os";
import type { Requirements } from "./manifest.ts";

export interface Platform {
  arch: string;
  /** Kernel release as reported by uname, e.g. "6.1.0-18-arm64". */
  kernel: string;
  /** GNU C library version, or null (musl, or unknown). */
  glibc: string | null;
  /** CPU feature flags from /proc/cpuinfo (x86 `flags`, arm `Features`). */
  cpu: string[];
}

/**
 * The name of the account this process runs as. (Bun's os.userInfo() takes it from $USER, which
 * cron, containers and services started without User= do not set: it says "unknown" there.)
 */
export function accountName(): string {
  // Asked once: the update status (polled by open pages) names it whenever the folder is not writable.
  if (account === undefined) {
    const id = Bun.spawnSync(["id", "-un"], { stderr: "ignore" });
    account = (id.exitCode === 0 && id.stdout.toString().trim()) || userInfo().username;
  }
  return account;
}
let account: string | undefined;

/** Reads the running system's platform facts. */
export function detectPlatform(): Platform {
  return { arch: process.arch, kernel: release(), glibc: glibcVersion(), cpu: cpuFeatures() };
}

function glibcVersion(): string | null {
  try {
    const report = (process as unknown as { report?: { getReport(): { header?: { glibcVersionRuntime?: string } } } }).report?.getReport();
    return report?.header?.glibcVersionRuntime ?? null;
  } catch {
    return null;
  }
}

function cpuFeatures(): string[] {
  let text: string;
  try {
    text = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return [];
  }
  const line = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(text);
  return line ? line[1]!.trim().split(/\s+/) : [];
}

/** The leading dotted numbers of a version: "6.1.0-18-arm64" → [6, 1, 0]. */
export function versionNumbers(text: string): number[] {
  const m = /^\d+(?:\.\d+)*/.exec(text.trim());
  return m ? m[0].split(".").map(Number) : [];
}

/** Compares dotted numeric versions ("5.10" > "5.4"); missing parts count as 0. */
export function compareDotted(a: string, b: string): number {
  const x = versionNumbers(a);
  const y = versionNumbers(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * What this platform lacks for a release, one sentence each; empty when it can run it.
 * Example: unmetRequirements({ glibc: "2.31" }, { …, glibc: "2.28" }) → ["GNU C library 2.31 or newer (this system has 2.28)"].
 */
export function unmetRequirements(requires: Requirements | undefined, platform: Platform): string[] {
  if (!requires) return [];
  const unmet: string[] = [];
  if (requires.kernel && compareDotted(platform.kernel, requires.kernel) < 0) {
    unmet.push(`Linux kernel ${requires.kernel} or newer (this system has ${platform.kernel})`);
  }
  if (requires.glibc) {
    if (platform.glibc === null) unmet.push(`GNU C library ${requires.glibc} or newer (this system has none that Layerline can find)`);
    else if (compareDotted(platform.glibc, requires.glibc) < 0) unmet.push(`GNU C library ${requires.glibc} or newer (this system has ${platform.glibc})`);
  }
  const missing = (requires.cpu ?? []).filter((f) => !platform.cpu.includes(f));
  if (missing.length > 0) unmet.push(`a CPU with ${missing.join(", ")} (this processor lacks ${missing.length === 1 ? "it" : "them"})`);
  return unmet;
}
