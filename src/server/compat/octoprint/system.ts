/**
 * OctoPrint's system information (`GET /api/system/info`) and the push socket's safe mode and
 * online flags, from what this host really knows: its connectivity to the servers it uses (the
 * diagnosis' probe), its safe mode, and on a Raspberry Pi the model and throttle flags — with
 * OctoPrint's keys (`connectivity.*`, `env.*`, `env.plugins.pi_support.*`).
 */
import { readFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { isOnline } from "../../../diagnostics/connectivity.ts";
import { gatherPowerFacts } from "../../../diagnostics/gather/power.ts";
import type { SafeMode } from "../../../plugins/safe-mode.ts";
import type { AppContext } from "../../context.ts";

/** OctoPrint's word for why it runs in safe mode (`flag`: the command line; `incomplete_startup`: crashes at start), or null. */
export function safeModeWord(safe: SafeMode): "flag" | "incomplete_startup" | null {
  return safe.safe ? (safe.automatic ? "incomplete_startup" : "flag") : null;
}

/** The CPU's top frequency in MHz (cpufreq), or null. */
function cpuMhz(): number | null {
  try {
    return Math.round(Number(readFileSync("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "utf8").trim()) / 1000) || null;
  } catch {
    return null;
  }
}

export async function systemInfoPayload(ctx: AppContext): Promise<{ systeminfo: Record<string, unknown> }> {
  const [{ online, facts }, power] = await Promise.all([ctx.diagnostics.online(), gatherPowerFacts()]);
  const safe = ctx.plugins.manager.safeMode;
  const first = facts.results[0];
  const port = first ? (() => {
    const u = new URL(first.url);
    return u.port || (u.protocol === "https:" ? "443" : "80");
  })() : null;
  const info: Record<string, unknown> = {
    "octoprint.version": ctx.version,
    "octoprint.safe_mode": safe.safe,
    // Safe mode is not recorded across starts: known only while this start runs in it.
    "octoprint.last_safe_mode.date": safe.safe ? new Date(ctx.startedAt).toISOString() : "unknown",
    "octoprint.last_safe_mode.reason": safeModeWord(safe) ?? "unknown",
    "env.os.id": "linux",
    "env.os.platform": process.platform,
    "env.os.arch": process.arch,
    "env.os.bits": /64/.test(process.arch) ? 64 : 32,
    "env.python.version": `bun ${Bun.version}`,
    "env.hardware.cores": availableParallelism(),
    "env.hardware.ram": totalmem(),
    // Enabled when Layerline uses a server at all (update source, plugin index, statistics); online
    // when one answered — or, with nothing to check, as OctoPrint defines it for a disabled check.
    "connectivity.enabled": facts.results.length > 0,
    "connectivity.online": octoprintOnline(online),
    "connectivity.connection_ok": octoprintOnline(online),
    "connectivity.connection_check": first ? `${first.host}:${port}` : null,
    "connectivity.resolution_ok": first ? first.dns.ok : false,
    "connectivity.resolution_check": first?.host ?? null,
    "systeminfo.generator": "layerline",
  };
  const mhz = cpuMhz();
  if (mhz) info["env.hardware.freq"] = mhz;
  if (power.model) info["env.plugins.pi_support.model"] = power.model;
  if (power.throttled) info["env.plugins.pi_support.throttle_state"] = `0x${power.throttled.value.toString(16)}`;
  return { systeminfo: info };
}

/**
 * OctoPrint's `online` from a probe's answer: true when a server answered; with no server to check
 * (null) true as well, as OctoPrint answers when its check is off ("we don't know any better");
 * false when none answered.
 */
function octoprintOnline(online: boolean | null): boolean {
  return online !== false;
}

/**
 * The push socket's `online`: the latest answer of the servers Layerline uses (a stale one is
 * renewed in the background); before the first answer false, as OctoPrint's check starts.
 */
export function onlineNow(ctx: AppContext): boolean {
  const latest = ctx.diagnostics.probe.latest();
  void ctx.diagnostics.probe.check().catch(() => {});
  return latest ? octoprintOnline(isOnline(latest)) : false;
}
