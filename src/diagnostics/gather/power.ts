/**
 * Gathers the Raspberry Pi's power flags: the firmware's sysfs file when the kernel offers it,
 * else `vcgencmd get_throttled`; and the board's model from the device tree.
 */
import { readFileSync } from "node:fs";
import { parseThrottled, type PowerFacts } from "../power.ts";

export const THROTTLED_SYSFS = "/sys/devices/platform/soc/soc:firmware/get_throttled";
const MODEL_FILES = ["/proc/device-tree/model", "/sys/firmware/devicetree/base/model"];

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8").replace(/\0/g, "").trim();
  } catch {
    return null;
  }
}

/** The Raspberry Pi's model, or null on other machines (a device tree naming something else included). */
export function piModel(files = MODEL_FILES): string | null {
  for (const f of files) {
    const model = readText(f);
    if (model) return /raspberry pi/i.test(model) ? model : null;
  }
  return null;
}

export async function gatherPowerFacts(options: { sysfs?: string; vcgencmd?: string | null } = {}): Promise<PowerFacts> {
  const model = piModel();
  const sysfs = options.sysfs ?? THROTTLED_SYSFS;
  const fromSysfs = readText(sysfs);
  if (fromSysfs !== null) {
    const value = parseThrottled(fromSysfs);
    return value === null ? { model, throttled: null, error: `${sysfs} holds "${fromSysfs}"` } : { model, throttled: { value, source: sysfs }, error: null };
  }
  const tool = options.vcgencmd === undefined ? Bun.which("vcgencmd") : options.vcgencmd;
  if (!tool) return { model, throttled: null, error: null };
  try {
    const proc = Bun.spawn([tool, "get_throttled"], { stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill(), 3000);
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    clearTimeout(timer);
    const code = await proc.exited;
    const value = parseThrottled(out);
    if (code !== 0 || value === null) return { model, throttled: null, error: `vcgencmd get_throttled answered "${(out || err).trim()}" (exit ${code})` };
    return { model, throttled: { value, source: "vcgencmd get_throttled" }, error: null };
  } catch (e) {
    return { model, throttled: null, error: `vcgencmd could not run: ${(e as Error).message}` };
  }
}
