/**
 * Gathers the serial facts from the real system: each serial printer's device (stat, realpath,
 * access for this process), which processes hold it (/proc/<pid>/fd), the USB serial adapters
 * plugged in (/dev/serial/by-id, sysfs) and the programs known to take serial adapters.
 */
import { accessSync, constants, realpathSync, statSync } from "node:fs";
import type { PrinterRecord } from "../../printers/record.ts";
import type { LinkStatsStatus } from "../../printers/status.ts";
import { listLinuxSerialPorts } from "../../transport/binding.ts";
import { GRABBERS, type Adapter, type DeviceFacts, type SerialFacts, type SerialPrinterFacts } from "../serial.ts";
import { currentIdentity, groupName, readGroups, scanProcesses } from "./proc.ts";

/** A configured printer as the checks see it: its record, and what the running host knows. */
export interface PrinterInput {
  record: PrinterRecord;
  /** The host's live view (absent when `layerline doctor` runs without a host). */
  live?: { state: string; connectionPort: string | null; link: LinkStatsStatus };
}

export interface SerialGatherOptions {
  /** Processes that are Layerline itself: their holding a port is expected. */
  selfPids: readonly number[];
  procRoot?: string;
}

/** stat + realpath + access of a device path, for this process. */
export function deviceFacts(path: string): DeviceFacts {
  let realPath: string | null = null;
  try {
    realPath = realpathSync(path);
  } catch {
    // missing, or a dangling link
  }
  let st;
  try {
    st = statSync(path);
  } catch {
    return { path, exists: false, realPath, isCharDevice: false, mode: null, uid: null, gid: null, group: null, access: "missing" };
  }
  let access: DeviceFacts["access"] = "ok";
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    access = code === "EACCES" || code === "EPERM" ? "denied" : code === "ENOENT" ? "missing" : "error";
  }
  return { path, exists: true, realPath, isCharDevice: st.isCharacterDevice(), mode: st.mode & 0o777, uid: st.uid, gid: st.gid, group: groupName(st.gid, readGroups()), access };
}

/** USB serial adapters plugged in now (the serial ports with a USB device behind them). */
export function usbAdapters(): Adapter[] {
  return listLinuxSerialPorts()
    .filter((p) => p.byIdPath !== undefined || p.vendorId !== undefined)
    .map((p) => ({ path: p.path, byId: p.byIdPath ?? null, vendorId: p.vendorId ?? null, productId: p.productId ?? null }));
}

export async function gatherSerialFacts(printers: readonly PrinterInput[], options: SerialGatherOptions): Promise<SerialFacts> {
  const serial = printers.filter((p) => p.record.transport === "serial");
  const devices = serial.map((p) => {
    const path = p.record.port === "auto" || !p.record.port ? (p.live?.connectionPort ?? null) : p.record.port;
    return path && p.record.port !== "auto" ? deviceFacts(path) : null;
  });
  const paths = devices.filter((d): d is DeviceFacts => d?.exists === true && d.realPath !== null).map((d) => d.realPath!);
  let scan: Awaited<ReturnType<typeof scanProcesses>> | null = null;
  try {
    scan = await scanProcesses(paths, options.procRoot);
  } catch {
    // /proc unreadable (a container without it): every holder is unknown
  }
  let adapters: Adapter[] | null;
  try {
    adapters = usbAdapters();
  } catch {
    adapters = null;
  }
  const self = new Set(options.selfPids);
  const facts: SerialPrinterFacts[] = serial.map((p, i) => {
    const device = devices[i] ?? null;
    const held = device?.realPath && scan ? (scan.holders.get(device.realPath) ?? []) : null;
    return {
      id: p.record.id,
      name: p.record.name,
      port: p.record.port ?? "",
      baud: p.record.baud,
      detected: p.record.port === "auto" ? (p.live?.connectionPort ?? null) : null,
      state: p.live?.state ?? null,
      device,
      holders: held?.map((h) => ({ ...h, self: self.has(h.pid) })) ?? null,
      unreadableProcesses: scan?.unreadable ?? 0,
      link: p.live?.link ?? null,
    };
  });
  const grabbers = scan ? scan.processes.filter((p) => p.name in GRABBERS).map((p) => ({ name: p.name, pid: p.pid })) : null;
  return { identity: currentIdentity(options.procRoot), printers: facts, adapters, grabbers };
}
