/**
 * System checks, pure: CPU temperature, memory available, load against the cores, and whether
 * the clock can be right (a Raspberry Pi has no battery-backed clock: booted without network it
 * starts in the past, and then TLS certificates are "not yet valid" and update checks fail).
 */
import { bytes, finding, type Finding } from "./finding.ts";

export interface SystemFacts {
  /** The hottest CPU thermal zone, °C, and its name; null: no thermal zone readable. */
  cpuTemp: { celsius: number; zone: string } | null;
  /** From /proc/meminfo; null: unreadable. */
  memory: { total: number; available: number } | null;
  /** From /proc/loadavg; null: unreadable. */
  load: { one: number; five: number; fifteen: number } | null;
  cores: number;
  now: number;
  /** A time the clock cannot be before: when this build was made. */
  notBefore: number;
  /** Whether the system says its clock is synchronised (timedatectl / adjtimex); null: unknown. */
  synchronized: boolean | null;
}

export const TEMP_WARNING = 75;
export const TEMP_PROBLEM = 85;

/** Memory verdict: a problem under 5 % or 50 MB available, worth a look under 15 % or 150 MB. */
export function memoryVerdict(total: number, available: number): "ok" | "warning" | "problem" {
  const share = total > 0 ? available / total : 0;
  if (share < 0.05 || available < 50 * 1024 ** 2) return "problem";
  if (share < 0.15 || available < 150 * 1024 ** 2) return "warning";
  return "ok";
}

export function systemFindings(f: SystemFacts): Finding[] {
  return [temperatureFinding(f), memoryFinding(f), loadFinding(f), clockFinding(f)];
}

function temperatureFinding(f: SystemFacts): Finding {
  const title = "CPU temperature";
  if (!f.cpuTemp) return finding("system.temperature", "system", "unknown", title, "No CPU temperature sensor can be read here (/sys/class/thermal has none).");
  const t = Math.round(f.cpuTemp.celsius);
  const found = `${t} °C (${f.cpuTemp.zone}).`;
  const fix = "Give the board a heatsink or a fan and air around it; a closed enclosure next to the heated bed gets hot.";
  if (f.cpuTemp.celsius >= TEMP_PROBLEM) return finding("system.temperature", "system", "problem", title, `${found} At this temperature the CPU slows itself down hard, and the printer's link can stutter.`, fix);
  if (f.cpuTemp.celsius >= TEMP_WARNING) return finding("system.temperature", "system", "warning", title, `${found} Close to where the CPU starts slowing itself down (80–85 °C on a Raspberry Pi).`, fix);
  return finding("system.temperature", "system", "ok", title, found);
}

function memoryFinding(f: SystemFacts): Finding {
  const title = "Memory";
  if (!f.memory) return finding("system.memory", "system", "unknown", title, "/proc/meminfo could not be read.");
  const { total, available } = f.memory;
  const verdict = memoryVerdict(total, available);
  const found = `${bytes(available)} available of ${bytes(total)}.`;
  if (verdict === "ok") return finding("system.memory", "system", "ok", title, found);
  return finding("system.memory", "system", verdict, title, `${found} When memory runs out the kernel ends programs, Layerline included, and prints stop.`, "Stop programs that are not needed on the printer host (a desktop, a browser running on the Pi itself), or disable plugins one at a time to find one that grows.", ["ps -eo pid,rss,comm --sort=-rss | head"]);
}

function loadFinding(f: SystemFacts): Finding {
  const title = "CPU load";
  if (!f.load) return finding("system.load", "system", "unknown", title, "/proc/loadavg could not be read.");
  const found = `Load ${f.load.one.toFixed(2)} / ${f.load.five.toFixed(2)} / ${f.load.fifteen.toFixed(2)} (1, 5, 15 minutes) on ${f.cores} core${f.cores === 1 ? "" : "s"}.`;
  if (f.load.five > 2 * f.cores) {
    return finding("system.load", "system", "warning", title, `${found} More work waits than the cores can do; the web pages slow down (prints run on their own threads and go on).`, "Find what keeps the CPU busy and stop what is not needed.", ["top -o %CPU"]);
  }
  return finding("system.load", "system", "ok", title, found);
}

function clockFinding(f: SystemFacts): Finding {
  const title = "Clock";
  const now = new Date(f.now).toISOString().replace("T", " ").slice(0, 16);
  if (f.now < f.notBefore) {
    const built = new Date(f.notBefore).toISOString().slice(0, 10);
    return finding(
      "system.clock",
      "system",
      "problem",
      title,
      `The clock says ${now} UTC, before this Layerline was even built (${built}). With a wrong date, secure connections fail (certificates look "not yet valid"): update checks, plugin installs and the plugin browser stop working, and print times in the history are wrong. A Raspberry Pi has no clock battery: it needs the network to set its time at boot.`,
      "Let the machine set its time from the network (NTP) and make sure it can reach the internet at boot; or add a real-time clock module.",
      ["timedatectl status", "sudo timedatectl set-ntp true"],
    );
  }
  if (f.synchronized === false) {
    return finding("system.clock", "system", "warning", title, `The clock says ${now} UTC, but the system reports it is not synchronised with a time server; it may be off.`, "Turn on network time.", ["timedatectl status", "sudo timedatectl set-ntp true"]);
  }
  return finding("system.clock", "system", "ok", title, `The clock says ${now} UTC${f.synchronized ? ", synchronised with a time server" : ""}.`);
}
