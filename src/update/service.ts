/**
 * `layerline service install`: writes a systemd unit that runs this binary as a service,
 * restarts it after a crash and on the "restart me" exit code, and lets the update watchdog
 * finish a rollback before systemd restarts the service.
 */
import { accessSync, constants, statSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { VERSION } from "../version.ts";
import { accountName } from "./platform.ts";
import { EXIT_RESTART, processControl } from "./process-control.ts";

export const DEFAULT_UNIT_PATH = "/etc/systemd/system/layerline.service";
/** systemd's own data folder for a unit with StateDirectory=layerline. */
const STATE_DIR = "/var/lib/layerline";

export interface UnitOptions {
  binary: string;
  user: string;
  dataDir: string;
  port: number;
  host: string;
  serial?: string;
  baud?: number;
  /** Passed on as `--extra-ports`. */
  extraPorts?: string;
}

export const SERVICE_HELP = `layerline service install [--path FILE] [--user NAME] [--binary PATH]
                          [--data-dir PATH] [--port N] [--host ADDR] [--serial PATH] [--baud N]
                          [--extra-ports PATTERNS]
  Writes a systemd unit (default ${DEFAULT_UNIT_PATH}) that runs Layerline as a service,
  restarts it after a crash and on exit code ${EXIT_RESTART}, and prints the systemctl commands.
  --user NAME      the account it runs as (default: the one running this, or $SUDO_USER)
  --binary PATH    the Layerline binary (default: this one); its folder must be writable by
                   that user for self-updates
  --data-dir PATH  default ${STATE_DIR} (created by systemd for the user)`;

/** Quotes one ExecStart word for systemd (which also expands % and $). */
function unitWord(word: string): string {
  const escaped = word.replaceAll("%", "%%").replaceAll("$", "$$$$");
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** The unit file's text. */
export function systemdUnit(options: UnitOptions): string {
  const args = [options.binary, "serve", "--port", String(options.port), "--host", options.host, "--data-dir", options.dataDir];
  if (options.serial) args.push("--serial", options.serial, "--baud", String(options.baud ?? 115200));
  if (options.extraPorts) args.push("--extra-ports", options.extraPorts);
  const stateDirectory = options.dataDir === STATE_DIR ? "StateDirectory=layerline\n" : "";
  return `# Written by \`layerline service install\` (Layerline ${VERSION}).
[Unit]
Description=Layerline 3D-printer host
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${options.user}
# Serial ports (/dev/ttyUSB*, /dev/ttyACM*) belong to the dialout group.
SupplementaryGroups=dialout
# Lets each printer's thread raise its priority to nice -10 (no other right): its print comes
# before the web pages and the machine's other programs when the CPU is busy.
LimitNICE=-10
${stateDirectory}WorkingDirectory=${unitWord(options.dataDir)}
ExecStart=${args.map(unitWord).join(" ")}
Environment=LAYERLINE_SUPERVISED=systemd
# Restart after a crash and when Layerline exits with ${EXIT_RESTART} ("restart me": e.g. a new
# version failed its self-test and the previous one was restored). A normal update re-executes
# in place and keeps the main PID, so systemd does not see it as a restart at all.
Restart=on-failure
RestartForceExitStatus=${EXIT_RESTART}
RestartSec=2
# When the main process exits, systemd sends SIGTERM to the rest of the unit; the update
# watchdog uses that moment to finish a rollback, so the restart runs the restored binary.
KillMode=control-group
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
`;
}

/** `layerline service install …`; returns the exit code. */
export async function serviceCli(args: string[]): Promise<number> {
  if (args[0] !== "install") {
    console.error(`${args[0] ? `Unknown service command "${args[0]}".` : "Missing service command."}\n\n${SERVICE_HELP}`);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: args.slice(1),
      options: {
        path: { type: "string", default: DEFAULT_UNIT_PATH },
        user: { type: "string" },
        binary: { type: "string" },
        "data-dir": { type: "string", default: STATE_DIR },
        port: { type: "string", default: "5000" },
        host: { type: "string", default: "0.0.0.0" },
        serial: { type: "string" },
        baud: { type: "string", default: "115200" },
        "extra-ports": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${SERVICE_HELP}`);
    return 2;
  }
  const binary = values.binary ? resolve(values.binary) : processControl().execPath;
  if (!binary) {
    console.error("This Layerline runs from source; run `service install` from the compiled binary, or name it with --binary PATH.");
    return 2;
  }
  const port = Number(values.port);
  const baud = Number(values.baud);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error("--port: must be 1–65535");
    return 2;
  }
  if (!Number.isInteger(baud) || baud < 300) {
    console.error("--baud: must be a whole number such as 115200");
    return 2;
  }
  const user = values.user ?? process.env.SUDO_USER ?? accountName();
  // systemd would only fail at start ("status=217/USER"), long after this command said it was done.
  if (userId(user) === null) {
    console.error(`--user: there is no user "${user}" on this system. Name an existing account, or create one first (e.g. sudo adduser --system --group --home /var/lib/layerline ${/^[a-z_][a-z0-9_-]*$/.test(user) ? user : "layerline"}).`);
    return 2;
  }
  const unit = systemdUnit({ binary, user, dataDir: resolve(values["data-dir"]!), port, host: values.host!, serial: values.serial, baud, extraPorts: values["extra-ports"] });
  const path = resolve(values.path!);
  try {
    writeFileSync(path, unit, { mode: 0o644 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    console.error(
      `Cannot write ${path}: ${code === "EACCES" || code === "EPERM" ? "permission denied" : (e as Error).message}.\n` +
        `Run it with sudo (sudo ${binary} service install …), or write elsewhere with --path FILE and copy it.`,
    );
    return 1;
  }
  const name = basename(path);
  console.log(`Wrote ${path} (runs ${binary} as ${user}).`);
  if (!writableBy(dirname(binary), user)) {
    console.log(`Note: ${user} cannot write to ${dirname(binary)}, so Layerline cannot update itself there. Move the binary to a folder ${user} owns (e.g. sudo install -d -o ${user} /opt/layerline) and run this again with --binary.`);
  }
  console.log(`
Enable and start it:
  sudo systemctl daemon-reload
  sudo systemctl enable --now ${name}
Then:
  systemctl status ${name}
  journalctl -u ${name} -f`);
  return 0;
}

/** Whether `user` can probably write to `dir`: its owner, or this very user with write access. */
function writableBy(dir: string, user: string): boolean {
  try {
    if (user === accountName()) {
      accessSync(dir, constants.W_OK);
      return true;
    }
    return statSync(dir).uid === userId(user);
  } catch {
    return false;
  }
}

/** The uid of an account (local or from the system's user database), or null when there is none. */
function userId(user: string): number | null {
  const id = Bun.spawnSync(["id", "-u", "--", user], { stderr: "ignore" });
  const uid = id.stdout.toString().trim();
  return id.exitCode === 0 && /^\d+$/.test(uid) ? Number(uid) : null;
}
