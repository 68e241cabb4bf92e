/**
 * Serial checks, pure: from the facts gathered about each serial printer's device (does it exist,
 * may this process open it, which other process holds it), the USB serial adapters plugged in,
 * the programs known to grab serial adapters, and each link's statistics, to findings.
 * The facts come from gather/serial.ts (the real system) or from tests.
 */
import type { LinkStatsStatus } from "../printers/status.ts";
import { finding, type Finding } from "./finding.ts";

/** Who this process runs as. */
export interface Identity {
  uid: number;
  /** The name of `uid` (null when no passwd entry names it). */
  user: string | null;
  /** The groups this process has now (primary and supplementary). */
  gids: number[];
  /**
   * The groups /etc/group lists the user in (by name), which the process gets only at its next
   * login: a user just added to dialout is in here but not yet in `gids`. null: unreadable.
   */
  listedIn: string[] | null;
}

/** A device node as stat(2) and access(2) see it. */
export interface DeviceFacts {
  /** The path configured. */
  path: string;
  exists: boolean;
  /** Where links lead (by-id links, Klipper's /tmp/printer → /dev/pts/N). */
  realPath: string | null;
  isCharDevice: boolean;
  /** Permission bits (mode & 0o777), owner and group; null when it does not exist. */
  mode: number | null;
  uid: number | null;
  gid: number | null;
  /** The group's name (e.g. dialout), null when unknown. */
  group: string | null;
  /** access(R_OK | W_OK) for this process: ok, denied (EACCES/EPERM), or another error. */
  access: "ok" | "denied" | "missing" | "error";
}

/** A process that has the device open. */
export interface Holder {
  pid: number;
  /** Its name (/proc/<pid>/comm). */
  name: string;
  /** Its command line, shortened. */
  command: string;
  /** Layerline itself (this process, or the host serving this data folder). */
  self: boolean;
  /** It holds a pseudo-terminal's master side too: on a pty, likely the program that made it (socat, Klipper). */
  ptyMaster: boolean;
}

/** A USB serial adapter plugged in (from /dev/serial/by-id). */
export interface Adapter {
  path: string;
  byId: string | null;
  vendorId: string | null;
  productId: string | null;
}

export interface SerialPrinterFacts {
  id: string;
  name: string;
  /** The port configured: a path, or `auto`; and its baud rate. */
  port: string;
  baud: number;
  /** Where `auto` found the printer on its latest connection (null: not found yet, or not auto). */
  detected: string | null;
  /** The printer's link state now (null when the host is not running). */
  state: string | null;
  device: DeviceFacts | null;
  /** Processes holding the device; null when /proc could not be read. */
  holders: Holder[] | null;
  /** Processes that hold the device but whose files could not be read (other users' processes, as non-root). */
  unreadableProcesses: number;
  /** The link's statistics since it was opened (null when the host is not running). */
  link: LinkStatsStatus | null;
}

export interface SerialFacts {
  identity: Identity | null;
  printers: SerialPrinterFacts[];
  /** Adapters plugged in now (null: could not list them). */
  adapters: Adapter[] | null;
  /** Programs known to take serial adapters that are running now (name → pids); null: /proc unreadable. */
  grabbers: { name: string; pid: number }[] | null;
}

/** Programs that open serial adapters of their own accord, with how to stop them. */
export const GRABBERS: Record<string, { what: string; fix: string; commands: string[] }> = {
  ModemManager: {
    what: "ModemManager probes every new USB serial device for a modem, and holds it for several seconds after it is plugged in (printers with CH340 or CP210x adapters look like modems to it)",
    fix: "Stop and disable ModemManager (nothing on a printer host needs it), or remove it.",
    commands: ["sudo systemctl disable --now ModemManager", "sudo apt-get remove modemmanager"],
  },
  brltty: {
    what: "brltty, the Braille display driver, claims USB serial adapters with CH340 and CP210x chips as Braille displays, so the printer's port disappears or stays busy",
    fix: "Remove brltty (unless a Braille display is used on this machine), then unplug and plug in the printer.",
    commands: ["sudo apt-get remove brltty"],
  },
  gpsd: {
    what: "gpsd opens serial devices it thinks are GPS receivers",
    fix: "Stop gpsd, or limit it to the GPS receiver's own device in /etc/default/gpsd.",
    commands: ["sudo systemctl disable --now gpsd gpsd.socket"],
  },
};

/** Programs that hold a port when a person left them open, with what to do. */
const KNOWN_HOLDERS: { match: RegExp; fix: (h: Holder, device: string) => { fix: string; commands: string[] } }[] = [
  {
    match: /^(agetty|getty|serial-getty)/,
    fix: (_, device) => ({
      fix: "A login prompt (serial console) runs on this port. Turn it off (on a Raspberry Pi: sudo raspi-config → Interface Options → Serial Port → no login shell over serial, hardware port enabled), then reboot.",
      commands: [`sudo systemctl disable --now serial-getty@${device.split("/").pop()}.service`],
    }),
  },
  { match: /^(octoprint|python)/i, fix: (h) => ({ fix: `${/octoprint/i.test(h.command) ? "OctoPrint" : "A Python program"} (pid ${h.pid}) has the printer open. Disconnect it there, or stop it.`, commands: /octoprint/i.test(h.command) ? ["sudo systemctl stop octoprint"] : [`kill ${h.pid}`] }) },
  { match: /^(klippy|klipper)/i, fix: (h) => ({ fix: `Klipper (pid ${h.pid}) drives this printer's board itself. Point Layerline at Klipper's own pseudo-terminal (/tmp/printer or ~/printer_data/comms/klippy.serial) instead of the board's port.`, commands: [] }) },
  { match: /^(screen|minicom|picocom|cu|tio|putty|pronterface|printrun)/i, fix: (h) => ({ fix: `${h.name} (pid ${h.pid}) has the printer open. Quit it, or end it.`, commands: [`kill ${h.pid}`] }) },
];

const DIALOUT_HINT = "then log out and in again (or reboot) so that the new group applies; a Layerline installed with `layerline service install` runs with the dialout group already";

/**
 * May this process open the device, and if not, exactly why and what to type.
 * Example: a device `crw-rw---- root:dialout` and a user not in dialout → problem with
 * `sudo usermod -aG dialout pi`.
 */
export function permissionFinding(id: string, device: DeviceFacts, identity: Identity | null): Finding {
  const fid = `serial.${id}.permission`;
  const title = `Permission to open ${device.path}`;
  if (device.access === "ok") return finding(fid, "serial", "ok", title, `This process (${who(identity)}) may read and write ${device.path}.`);
  if (device.access === "error" || device.access === "missing") return finding(fid, "serial", "unknown", title, `Whether ${device.path} may be opened could not be checked.`);
  const owner = `${device.path} belongs to ${device.uid === 0 ? "root" : `user ${device.uid}`} and group ${device.group ?? device.gid} with mode ${modeText(device.mode)}`;
  if (!identity) return finding(fid, "serial", "problem", title, `This process may not open ${device.path} (${owner}).`, "Run Layerline as a user in the device's group.");
  const user = identity.user ?? `the user with id ${identity.uid}`;
  const groupReadable = device.mode !== null && (device.mode & 0o060) === 0o060;
  const group = device.group;
  if (device.gid !== null && groupReadable && group) {
    const inGroupNow = identity.gids.includes(device.gid);
    const listed = identity.listedIn?.includes(group) ?? false;
    if (!inGroupNow && listed) {
      return finding(
        fid,
        "serial",
        "problem",
        title,
        `${owner}. ${user} was added to the ${group} group, but this process started before that and does not have it yet.`,
        `Log out and in again (or reboot), or restart Layerline (sudo systemctl restart layerline when it runs as a service), so that the ${group} group applies.`,
        [],
      );
    }
    if (!inGroupNow) {
      const name = identity.user ?? "$USER";
      return finding(
        fid,
        "serial",
        "problem",
        title,
        `${owner}, and ${user} is not in the ${group} group, so Layerline may not open the printer's port.`,
        `Add ${user} to the ${group} group, ${DIALOUT_HINT}.`,
        [`sudo usermod -aG ${group} ${name}`],
      );
    }
  }
  // The group does not grant read and write, or the device belongs to no useful group.
  return finding(
    fid,
    "serial",
    "problem",
    title,
    `${owner}; that gives ${user} no read and write access.`,
    `Give the dialout group access to it (a udev rule does this for every adapter: MODE="0660", GROUP="dialout"), then add ${user} to dialout, ${DIALOUT_HINT}.`,
    [`sudo chgrp dialout ${device.realPath ?? device.path}`, `sudo chmod 660 ${device.realPath ?? device.path}`, `sudo usermod -aG dialout ${identity.user ?? "$USER"}`],
  );
}

/** Thresholds of the share of lines sent again: more than this is worth a look, and a problem. */
export const RESEND_WARNING = 0.02;
export const RESEND_PROBLEM = 0.1;
/** Fewer lines than this say nothing about the link. */
export const RESEND_MIN_LINES = 200;

/**
 * The link's health from its statistics: the share of lines the printer asked for again, and
 * how often it fell silent. Example: 1,000 lines, 150 resent → problem (15 %): a cable, EMI or
 * the wrong baud rate.
 */
export function linkFinding(id: string, name: string, link: LinkStatsStatus | null, baud: number): Finding {
  const fid = `serial.${id}.link`;
  const title = `Link quality of ${name}`;
  if (!link) return finding(fid, "serial", "unknown", title, "Link statistics are kept by the running host; Layerline is not running.");
  if (link.linesSent < RESEND_MIN_LINES) {
    return finding(fid, "serial", "ok", title, link.linesSent === 0 ? "No lines sent since the link was opened; nothing to judge yet." : `Only ${link.linesSent} lines sent since the link was opened; too few to judge.`);
  }
  const pct = (link.resendRatio * 100).toFixed(link.resendRatio < 0.1 ? 1 : 0);
  const counts = `${link.linesResent} of ${link.linesSent} lines (${pct} %) had to be sent again${link.timeouts ? `, and the printer fell silent ${link.timeouts} time${link.timeouts === 1 ? "" : "s"}` : ""}`;
  const cause = `Resent lines come from bytes damaged on the wire: a poor or long USB cable, electrical noise (motors, heaters and their wiring next to the cable, a shared ground), or a baud rate the adapter cannot hold exactly (${baud} now).`;
  const fix = "Use a short, shielded USB cable with a ferrite core, route it away from motor and heater wires, power the printer and the host from the same outlet, and if it persists try 115200 baud in the printer's firmware and here.";
  if (link.resendRatio > RESEND_PROBLEM) return finding(fid, "serial", "problem", title, `${counts}. ${cause}`, fix);
  if (link.resendRatio > RESEND_WARNING) return finding(fid, "serial", "warning", title, `${counts}. ${cause}`, fix);
  if (link.timeouts > 0) {
    return finding(fid, "serial", "warning", title, `${counts}. A printer that stops answering usually reset (power dips, a USB cable that also powers the board) or was busy longer than its firmware says.`, "Check the printer's power supply and the USB cable; the flight recorder (Link card → download) shows what came before each silence.");
  }
  return finding(fid, "serial", "ok", title, `${counts}.`);
}

/** Every serial finding from the facts. */
export function serialFindings(facts: SerialFacts): Finding[] {
  const out: Finding[] = [];
  const serial = facts.printers;
  for (const p of serial) out.push(...printerFindings(p, facts));
  out.push(...grabberFindings(facts, serial.length > 0));
  if (serial.length === 0) out.push(adaptersFinding(facts.adapters));
  return out;
}

function printerFindings(p: SerialPrinterFacts, facts: SerialFacts): Finding[] {
  const out: Finding[] = [];
  const prefix = `serial.${p.id}`;
  if (p.port === "auto" && p.state === null) {
    out.push(finding(`${prefix}.device`, "serial", "unknown", `Port of ${p.name}`, `Set to auto-detect: the running host finds the port when it connects, and Layerline is not running now${adapterList(facts.adapters)}.`));
  } else if (p.port === "auto") {
    out.push(
      p.detected
        ? finding(`${prefix}.device`, "serial", "ok", `Port of ${p.name}`, `Set to auto-detect; the printer was found on ${p.detected}.`)
        : finding(`${prefix}.device`, "serial", facts.adapters?.length === 0 ? "warning" : "unknown", `Port of ${p.name}`, `Set to auto-detect, and no port has answered yet${adapterList(facts.adapters)}.`, facts.adapters?.length === 0 ? "Plug the printer in and switch it on; a USB cable must carry data (some carry only power)." : null),
    );
  }
  const d = p.device;
  if (d) {
    if (!d.exists) {
      out.push(
        finding(
          `${prefix}.device`,
          "serial",
          "warning",
          `Port of ${p.name}`,
          `${d.path} does not exist now${adapterList(facts.adapters)}.`,
          facts.adapters && facts.adapters.length > 0
            ? "If the printer is one of the devices above, its name changed (ttyUSB0 becomes ttyUSB1 when another adapter comes first): set the printer's port to its /dev/serial/by-id/… path, which never changes."
            : "Switch the printer on and check the USB cable (it must carry data, not only power). Layerline connects by itself once the device appears.",
        ),
      );
    } else if (!d.isCharDevice) {
      out.push(finding(`${prefix}.device`, "serial", "problem", `Port of ${p.name}`, `${d.path} exists but is not a serial device${d.realPath && d.realPath !== d.path ? ` (it leads to ${d.realPath})` : ""}.`, "Choose the printer's serial port: /dev/serial/by-id/…, /dev/ttyUSB0 or /dev/ttyACM0."));
    } else {
      out.push(finding(`${prefix}.device`, "serial", "ok", `Port of ${p.name}`, `${d.path} exists${d.realPath && d.realPath !== d.path ? ` (${d.realPath})` : ""}.`));
      out.push(permissionFinding(p.id, d, facts.identity));
      out.push(holdersFinding(p, d.path));
    }
  }
  out.push(linkFinding(p.id, p.name, p.link, p.baud));
  return out;
}

/** Who else has the printer's port open. */
export function holdersFinding(p: SerialPrinterFacts, path: string): Finding {
  const fid = `serial.${p.id}.busy`;
  const title = `Other programs using ${path}`;
  if (p.holders === null) return finding(fid, "serial", "unknown", title, "The list of processes (/proc) could not be read.");
  // A pseudo-terminal (Klipper's /tmp/printer, a socat pair) is kept open by the program that made it: its other end.
  const pty = (p.device?.realPath ?? path).startsWith("/dev/pts/");
  const providers = pty ? p.holders.filter((h) => !h.self && h.ptyMaster) : [];
  const others = p.holders.filter((h) => !h.self && !providers.includes(h));
  const self = p.holders.filter((h) => h.self);
  if (others.length === 0) {
    const unseen = p.unreadableProcesses > 0 ? ` (${p.unreadableProcesses} processes of other users could not be looked into; run \`sudo layerline doctor\` to include them)` : "";
    const end = providers.length ? ` It is a pseudo-terminal whose other end is ${providers.map((h) => `${h.name} (pid ${h.pid})`).join(", ")}.` : "";
    return finding(fid, "serial", p.unreadableProcesses > 0 ? "unknown" : "ok", title, `${self.length ? "Only Layerline has it open" : "No other program has it open"}${unseen}.${end}`);
  }
  const names = others.map((h) => `${h.name} (pid ${h.pid}${h.command && h.command !== h.name ? `: ${h.command}` : ""})`).join(", ");
  const first = others[0]!;
  const grabber = GRABBERS[first.name];
  if (grabber) return finding(fid, "serial", "problem", title, `${path} is held by ${names}. ${grabber.what}.`, grabber.fix, grabber.commands);
  const known = KNOWN_HOLDERS.find((k) => k.match.test(first.name));
  const advice = known ? known.fix(first, p.device?.realPath ?? path) : { fix: `Close ${first.name}, or end it; only one program can talk to a printer at a time.`, commands: others.map((h) => `kill ${h.pid}`) };
  return finding(fid, "serial", "problem", title, `${path} is held by ${names}; Layerline cannot use the printer while it is.`, advice.fix, advice.commands);
}

/** Programs known to grab serial adapters that run now, though none holds a printer's port at this moment. */
function grabberFindings(facts: SerialFacts, haveSerial: boolean): Finding[] {
  if (!haveSerial) return [];
  if (facts.grabbers === null) return [finding("serial.grabbers", "serial", "unknown", "Programs that take serial adapters", "The list of processes (/proc) could not be read.")];
  if (facts.grabbers.length === 0) return [finding("serial.grabbers", "serial", "ok", "Programs that take serial adapters", `None of ${Object.keys(GRABBERS).join(", ")} is running.`)];
  return facts.grabbers.map((g) => {
    const about = GRABBERS[g.name]!;
    return finding(`serial.grabbers.${g.name}`, "serial", "warning", `${g.name} is running`, `${g.name} runs (pid ${g.pid}). ${about.what}.`, about.fix, about.commands);
  });
}

/** With no serial printer configured: a USB serial adapter plugged in is probably a printer waiting to be added. */
export function adaptersFinding(adapters: Adapter[] | null): Finding {
  const title = "USB serial adapters";
  if (adapters === null) return finding("serial.adapters", "serial", "unknown", title, "The serial devices (/dev/serial/by-id) could not be listed.");
  if (adapters.length === 0) return finding("serial.adapters", "serial", "not-applicable", title, "No serial printer is configured and no USB serial adapter is plugged in.");
  const first = adapters[0]!;
  const path = first.byId ?? first.path;
  return finding(
    "serial.adapters",
    "serial",
    "warning",
    title,
    `No serial printer is configured, but ${adapters.length === 1 ? "a USB serial device is" : `${adapters.length} USB serial devices are`} plugged in: ${adapters.map(describeAdapter).join("; ")}.`,
    "If that is your printer, add it (Printers → add, or the API), using its /dev/serial/by-id path, which stays the same when devices are re-plugged.",
    [`curl -H "X-Api-Key: $KEY" -X POST -H 'content-type: application/json' -d '{"name":"My printer","transport":"serial","port":"${path}"}' http://localhost:5000/api/v1/printers`],
  );
}

/** USB ids of adapter chips that brltty or ModemManager are known to take. */
const CONTESTED_CHIPS: Record<string, string> = { "1a86:7523": "CH340", "1a86:55d4": "CH9102", "10c4:ea60": "CP210x" };

function describeAdapter(a: Adapter): string {
  const chip = a.vendorId && a.productId ? CONTESTED_CHIPS[`${a.vendorId}:${a.productId}`] : undefined;
  return `${a.byId ?? a.path}${a.byId ? ` → ${a.path}` : ""}${chip ? ` (${chip})` : ""}`;
}

function adapterList(adapters: Adapter[] | null): string {
  if (adapters === null) return "";
  if (adapters.length === 0) return "; no USB serial device is plugged in";
  return `; serial devices present: ${adapters.map(describeAdapter).join("; ")}`;
}

function who(identity: Identity | null): string {
  if (!identity) return "this user";
  return identity.user ?? `uid ${identity.uid}`;
}

/** `crw-rw----` style, from permission bits. */
export function modeText(mode: number | null): string {
  if (mode === null) return "unknown";
  const bits = "rwxrwxrwx";
  return `c${[...bits].map((c, i) => (mode & (1 << (8 - i)) ? c : "-")).join("")}`;
}
