/**
 * Facts read from the data folder, the same for the running host and `layerline doctor`: the
 * largest stored file, the host settings, the plugins the host disabled, the start record behind
 * automatic safe mode, the user's quirks files, and the system facts the bundle names.
 */
import type { Database } from "bun:sqlite";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, hostname, totalmem, uptime } from "node:os";
import { join } from "node:path";
import { START_RECORD_FILE } from "../../plugins/safe-mode.ts";
import { detectPlatform } from "../../update/platform.ts";
import { piModel } from "./power.ts";

/** The largest file in the files folder's catalog, bytes (null: none). */
export function largestStoredFile(db: Database): number | null {
  const row = db.query("SELECT MAX(size) AS size FROM files").get() as { size: number | null } | null;
  return row?.size ?? null;
}

/** Every host setting, by key (values parsed; a value that is no JSON as its text). */
export function settingsByKey(db: Database): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const row of db.query("SELECT key, value FROM settings ORDER BY key").all() as { key: string; value: string }[]) {
    try {
      out[row.key] = JSON.parse(row.value);
    } catch {
      out[row.key] = row.value;
    }
  }
  return out;
}

/** Plugins the database records as disabled, with the host's reason (null: the user disabled it). */
export function disabledPlugins(db: Database): { id: string; reason: string | null }[] {
  return db.query("SELECT id, reason FROM plugin_state WHERE enabled = 0 ORDER BY id").all() as { id: string; reason: string | null }[];
}

/** The start record (plugin-starts.json): starts that did not finish, and the plugins they stopped on. */
export function crashedStarts(dataDir: string): { count: number; suspects: string[] } | null {
  try {
    const record = JSON.parse(readFileSync(join(dataDir, START_RECORD_FILE), "utf8")) as { unfinished?: unknown; suspects?: unknown };
    const count = typeof record.unfinished === "number" ? record.unfinished : 0;
    const suspects = Array.isArray(record.suspects) ? record.suspects.flatMap((s) => (s && typeof s === "object" && typeof (s as { plugin?: unknown }).plugin === "string" ? [(s as { plugin: string }).plugin] : [])) : [];
    return { count, suspects };
  } catch {
    return { count: 0, suspects: [] };
  }
}

/** The user's own firmware-quirks files (name → text). */
export function userQuirkFiles(dataDir: string): Record<string, string> {
  const dir = join(dataDir, "firmware-quirks");
  const out: Record<string, string> = {};
  try {
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
      try {
        out[name] = readFileSync(join(dir, name), "utf8");
      } catch (e) {
        out[name] = `(could not be read: ${(e as Error).message})`;
      }
    }
  } catch {
    // no folder: no overrides
  }
  return out;
}

/** What the bundle says about the machine. */
export function systemSummary(dataDir: string, version: string): Record<string, unknown> {
  const platform = detectPlatform();
  let os: string | null = null;
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? null;
  } catch {
    // unknown
  }
  return {
    layerline: version,
    bun: Bun.version,
    os,
    model: piModel(),
    arch: platform.arch,
    kernel: platform.kernel,
    glibc: platform.glibc,
    hostname: hostname(),
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    uptimeSeconds: Math.round(uptime()),
    dataDir,
    pid: process.pid,
    execPath: process.execPath,
    supervised: process.env.INVOCATION_ID ? "systemd" : process.env.LAYERLINE_SUPERVISED ? "LAYERLINE_SUPERVISED" : null,
  };
}
