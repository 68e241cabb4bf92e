/**
 * Gathers the system facts: thermal zones (/sys/class/thermal), /proc/meminfo, /proc/loadavg,
 * the cores, and whether the clock is synchronised (systemd-timesyncd's flag file, else
 * timedatectl). Whatever cannot be read is null.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { SystemFacts } from "../system.ts";

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/** Zone types that measure the CPU (or the SoC, which on a Pi is the same). */
const CPU_ZONE = /cpu|soc|x86_pkg|coretemp|k10temp|package/i;

/** The hottest CPU zone (any zone when none is named for the CPU). */
export function cpuTemperature(root = "/sys/class/thermal"): SystemFacts["cpuTemp"] {
  let zones: { celsius: number; zone: string }[] = [];
  try {
    zones = readdirSync(root)
      .filter((n) => n.startsWith("thermal_zone"))
      .flatMap((n) => {
        const milli = Number(readText(join(root, n, "temp")));
        const type = readText(join(root, n, "type")) ?? n;
        // A sensor that is off reads nothing or nonsense.
        return Number.isFinite(milli) && milli > -40_000 && milli < 150_000 ? [{ celsius: milli / 1000, zone: type }] : [];
      });
  } catch {
    return null;
  }
  const cpu = zones.filter((z) => CPU_ZONE.test(z.zone));
  const pick = (cpu.length ? cpu : zones).sort((a, b) => b.celsius - a.celsius)[0];
  return pick ?? null;
}

/** MemTotal and MemAvailable from /proc/meminfo, in bytes. */
export function memory(path = "/proc/meminfo"): SystemFacts["memory"] {
  const text = readText(path);
  if (!text) return null;
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  const total = kb("MemTotal");
  const available = kb("MemAvailable");
  return Number.isFinite(total) && Number.isFinite(available) ? { total: total * 1024, available: available * 1024 } : null;
}

export function loadAverage(path = "/proc/loadavg"): SystemFacts["load"] {
  const f = readText(path)?.split(/\s+/).map(Number);
  return f && f.length >= 3 && f.slice(0, 3).every(Number.isFinite) ? { one: f[0]!, five: f[1]!, fifteen: f[2]! } : null;
}

/** Whether the clock is synchronised: timesyncd's flag file, else timedatectl; null when neither says. */
export async function clockSynchronized(): Promise<boolean | null> {
  if (existsSync("/run/systemd/timesync/synchronized")) return true;
  const tool = Bun.which("timedatectl");
  if (!tool) return null;
  try {
    const proc = Bun.spawn([tool, "show", "-p", "NTPSynchronized", "--value"], { stdout: "pipe", stderr: "ignore" });
    const timer = setTimeout(() => proc.kill(), 2000);
    const out = (await new Response(proc.stdout).text()).trim();
    clearTimeout(timer);
    return (await proc.exited) === 0 && (out === "yes" || out === "no") ? out === "yes" : null;
  } catch {
    return null;
  }
}

export async function gatherSystemFacts(now: number, notBefore: number): Promise<SystemFacts> {
  return { cpuTemp: cpuTemperature(), memory: memory(), load: loadAverage(), cores: availableParallelism(), now, notBefore, synchronized: await clockSynchronized() };
}
