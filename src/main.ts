#!/usr/bin/env bun
/**
 * The `layerline` command line.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { defaultDataDir, prepareDataDir, ServeOptionsSchema } from "./config.ts";
import { HostInUseError, PortInUseError, startHost } from "./host.ts";
import { hostExit, survivePluginErrors } from "./plugins/exit-guard.ts";
import { DEFAULT_STUCK_MS } from "./plugins/main-thread-watch.ts";
import { DEFAULT_PRINT_READ_RATE } from "./server/pacing.ts";
import { trustedPublicKey } from "./update/release-key.ts";
import { VERSION } from "./version.ts";
import { accountsCli, USERS_HELP } from "./accounts/cli.ts";
import { RecentLog, teeConsole } from "./diagnostics/recent-log.ts";

/** The first automatic update check waits this long, so it never slows a start. */
const FIRST_UPDATE_CHECK_MS = 2 * 60_000;

const HELP = `Layerline ${VERSION} — a 3D-printer host in one file.

Usage:
  layerline [serve] [options]        run the host (default)
  layerline virtual-printer --tty PATH [--log FILE] [--time-scale N] [--personality P]
                             [--advanced-ok] [--realistic] [--faults JSON] [--stats]
                             [--no-cancel-objects] [--no-motion-before-homing] [--glued-delete-ok]
                                     run the built-in virtual printer on a tty
                                     (e.g. one end of a socat pty pair)
  layerline update [--url URL] [--channel stable|beta] [--check] [--force] [--data-dir PATH]
                                     install the newest release (see layerline update --help)
  layerline service install [--path FILE] [--user NAME] [options for serve]
                                     write a systemd unit (see layerline service --help)
  layerline users … | apikey …     manage accounts and API keys (see below)
  layerline registry build|serve …   the plugin repository: build its index and website, serve it
                                     with anonymous usage statistics (see layerline registry --help)
  layerline doctor [--data-dir PATH] [--json] [--verbose] [--local] [--bundle FILE]
                                     check this host and say what is wrong and how to fix
                                     it; exit status 1 when a problem was found
                                     (see layerline doctor --help)
  layerline backup [--data-dir PATH] [--output FILE] [--with-timelapses]
                                     write everything of this host into one .tar.gz
  layerline restore FILE [--data-dir PATH] [--yes]
                                     put a backup back (see layerline backup --help)
  layerline replay TRACE.jsonl [--data-dir PATH]
                                     replay a flight-recorder trace through the
                                     protocol engine and against the virtual printer
  layerline --help | --version

Options for serve:
  --port N          HTTP port (default 5000)
  --host ADDR       address to listen on (default 0.0.0.0, all interfaces)
  --data-dir PATH   where the database and files live
                    (default $XDG_DATA_HOME/layerline or ~/.local/share/layerline)
  --serial PATH     add a printer on this serial port and make it the default,
                    e.g. /dev/ttyUSB0 or /dev/ttyACM0; "auto" tries every serial
                    port and the usual baud rates and uses the first that answers
  --baud N          baud rate for --serial (default 115200; many printers use 250000)
  --extra-ports PATTERNS
                    more terminals to offer as serial ports and to try with "auto",
                    comma-separated absolute paths; *, ? and [...] allowed in the
                    last part (e.g. /dev/printer*). Klipper's pseudo-tty
                    (/tmp/printer, ~/printer_data/comms/klippy.serial) is always offered
  --trusted-proxies LIST
                    reverse proxies (comma-separated addresses or CIDR ranges) whose
                    X-Forwarded-Proto, X-Scheme and X-Forwarded-Host headers are
                    believed, e.g. for Secure cookies behind a TLS-terminating proxy
                    (default 127.0.0.1,::1: a proxy on this machine; "" = none)
  --virtual-time-scale N
                    run the virtual printer N times faster than real time (default 1)
  --update-public-key FILE
                    trust releases signed with this Ed25519 public key (PEM) instead of
                    the built-in one (self-hosted update channels)
  --setup-token TOKEN
                    first-run setup (wizard and POST /api/v1/setup) needs this token
                    (at least 8 characters; send it as X-Setup-Token), and then works
                    from any address
  --zeroconf        advertise the printers on the local network (mDNS/Bonjour
                    _octoprint._tcp), so slicers such as Cura and PrusaSlicer find them
  --safe            safe mode: load no third-party plugins (also automatic after
                    3 starts in a row that crashed)
  --virtual-personality P
                    the virtual printer behaves as marlin2 (default), prusa, repetier,
                    smoothie or klipper
  --print-read-rate N
                    while a printer prints, answer at most N reads (GET, HEAD) a second in all;
                    more wait their turn, none is refused; commands are never delayed
                    (default ${DEFAULT_PRINT_READ_RATE}; 0 = no limit)
  --plugin-hang-seconds N
                    a plugin whose code holds the web interface and API for N seconds is
                    disabled, and Layerline starts again once no print runs
                    (default ${DEFAULT_STUCK_MS / 1000}; 0 = never)

Without --serial, the first start creates a built-in virtual printer, so everything works
with no hardware. Open http://localhost:5000 in a browser: the first visit runs the setup
wizard (create the admin account, name the printer, pick its connection).

${USERS_HELP}`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith("-") ? argv[0] : "serve";
  const rest = command === argv[0] ? argv.slice(1) : argv;
  if (argv.includes("--help") || argv.includes("-h")) {
    if (command === "registry") {
      const { REGISTRY_HELP } = await import("./registry/cli.ts");
      console.log(REGISTRY_HELP);
    } else if (command === "doctor") {
      const { DOCTOR_HELP } = await import("./diagnostics/cli.ts");
      console.log(DOCTOR_HELP);
    } else if (command === "backup" || command === "restore") {
      const { BACKUP_HELP } = await import("./backup/cli.ts");
      console.log(BACKUP_HELP);
    } else if (command === "update" || command === "service") {
      const { UPDATE_HELP } = await import("./update/cli.ts");
      const { SERVICE_HELP } = await import("./update/service.ts");
      console.log(command === "update" ? UPDATE_HELP : SERVICE_HELP);
    } else console.log(HELP);
    return 0;
  }
  if (argv.includes("--version") || argv.includes("-v")) {
    console.log(VERSION);
    return 0;
  }
  switch (command) {
    case "serve":
      return serve(rest);
    case "users":
    case "apikey":
      return accountsCli(command, rest);
    case "virtual-printer": {
      const { virtualPrinterCli } = await import("./virtual/pty.ts");
      return virtualPrinterCli(rest);
    }
    case "update": {
      const { updateCli } = await import("./update/cli.ts");
      return updateCli(rest);
    }
    case "service": {
      const { serviceCli } = await import("./update/service.ts");
      return serviceCli(rest);
    }
    case "registry": {
      const { registryCli } = await import("./registry/cli.ts");
      return registryCli(rest);
    }
    case "update-watchdog": {
      // Internal: started by an update from the previous binary (see src/update/watchdog.ts).
      const { values } = parseArgs({ args: rest, options: { "data-dir": { type: "string" } }, strict: true });
      if (!values["data-dir"]) {
        console.error("update-watchdog is started by an update; it needs --data-dir.");
        return 2;
      }
      const { runWatchdog } = await import("./update/watchdog.ts");
      return runWatchdog(values["data-dir"]);
    }
    case "doctor": {
      const { doctorCli } = await import("./diagnostics/cli.ts");
      return doctorCli(rest);
    }
    case "backup": {
      const { backupCli } = await import("./backup/cli.ts");
      return backupCli(rest);
    }
    case "restore": {
      const { restoreCli } = await import("./backup/cli.ts");
      return restoreCli(rest);
    }
    case "replay":
      return replay(rest);
    default:
      console.error(`Unknown command "${command}". Run layerline --help.`);
      return 2;
  }
}

async function serve(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: "5000" },
        host: { type: "string", default: "0.0.0.0" },
        "data-dir": { type: "string" },
        serial: { type: "string" },
        baud: { type: "string", default: "115200" },
        "virtual-time-scale": { type: "string", default: "1" },
        "update-public-key": { type: "string" },
        "setup-token": { type: "string" },
        zeroconf: { type: "boolean" },
        safe: { type: "boolean", default: false },
        "virtual-personality": { type: "string", default: "marlin2" },
        "print-read-rate": { type: "string", default: String(DEFAULT_PRINT_READ_RATE) },
        "plugin-hang-seconds": { type: "string", default: String(DEFAULT_STUCK_MS / 1000) },
        "extra-ports": { type: "string", multiple: true },
        "trusted-proxies": { type: "string", multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\nRun layerline --help for the options.`);
    return 2;
  }
  const parsed = v.safeParse(ServeOptionsSchema, {
    port: Number(values.port),
    host: values.host,
    dataDir: values["data-dir"] ?? defaultDataDir(),
    serial: values.serial,
    baud: Number(values.baud),
    virtualTimeScale: Number(values["virtual-time-scale"]),
    safe: values.safe ?? false,
    virtualPersonality: values["virtual-personality"],
    printReadRate: Number(values["print-read-rate"]),
    pluginHangSeconds: Number(values["plugin-hang-seconds"]),
    extraPorts: (values["extra-ports"] ?? []).flatMap((s) => s.split(",")).filter((s) => s !== ""),
    trustedProxies: values["trusted-proxies"]?.flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s !== ""),
  });
  if (!parsed.success) {
    for (const issue of parsed.issues) console.error(`--${flagName(v.getDotPath(issue))}: ${issue.message}`);
    return 2;
  }
  const options = parsed.output;
  if (values["setup-token"] !== undefined && values["setup-token"].length < 8) {
    console.error("--setup-token: use at least 8 characters (it guards the creation of the first admin).");
    return 2;
  }
  let dataDir: string;
  try {
    dataDir = prepareDataDir(options.dataDir);
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
  if (options.serial && options.serial !== "auto" && !existsSync(options.serial)) {
    console.error(
      `warning: serial device ${options.serial} does not exist (yet). Layerline keeps trying to connect; ` +
        "check that the printer is plugged in and powered. Candidates: /dev/serial/by-id/*, /dev/ttyUSB*, /dev/ttyACM*.",
    );
  }
  let publicKey;
  try {
    publicKey = trustedPublicKey(values["update-public-key"]);
  } catch (e) {
    console.error(`--update-public-key: ${(e as Error).message}`);
    return 2;
  }
  // A plugin's refused process.exit(), or an error, in its own timer must not end the host (src/plugins/exit-guard.ts).
  survivePluginErrors();
  // What the host writes to the console is kept for support bundles too (the latest lines).
  const recentLog = new RecentLog();
  teeConsole(recentLog);
  let host;
  try {
    host = await startHost({
      dataDir,
      port: options.port,
      host: options.host,
      serial: options.serial,
      baud: options.baud,
      virtual: { timeScale: options.virtualTimeScale, personality: options.virtualPersonality, advancedOk: true },
      // ADVANCED_OK on above, so the built-in printer shows windowed sending (Marlin personality).
      yieldToPrinters: true,
      safe: options.safe,
      printReadRate: options.printReadRate,
      extraPorts: options.extraPorts,
      trustedProxies: options.trustedProxies,
      restartInPlace: true,
      mainThreadWatch: options.pluginHangSeconds > 0 ? { stuckMs: options.pluginHangSeconds * 1000 } : undefined,
      update: { publicKey, firstCheckDelayMs: FIRST_UPDATE_CHECK_MS },
      setupToken: values["setup-token"],
      zeroconf: values.zeroconf === true,
      recentLog,
    });
  } catch (e) {
    console.error(e instanceof PortInUseError || e instanceof HostInUseError ? e.message : `Layerline could not start: ${(e as Error).message}`);
    return 1;
  }
  console.log(`Layerline ${VERSION} is running on http://${options.host === "0.0.0.0" ? "localhost" : options.host}:${host.port} (data: ${dataDir})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  console.log("Stopping…");
  await host.stop();
  return 0;
}

/** `layerline replay TRACE.jsonl`: the trace through the engine, and its commands against the virtual printer. */
async function replay(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: { "data-dir": { type: "string" } }, strict: true, allowPositionals: true }));
  } catch (e) {
    console.error(`${(e as Error).message}\nUsage: layerline replay TRACE.jsonl [--data-dir PATH]`);
    return 2;
  }
  const path = positionals[0];
  if (!path || positionals.length > 1) {
    console.error("Usage: layerline replay TRACE.jsonl [--data-dir PATH]  (download a trace from the dashboard or GET /api/v1/printers/<id>/trace)");
    return 2;
  }
  const file = Bun.file(path);
  if (!(await file.exists())) {
    console.error(`There is no file ${path}.`);
    return 1;
  }
  const { loadQuirkSources } = await import("./printers/quirks-sources.ts");
  const { QuirksLibrary } = await import("./protocol/quirks-library.ts");
  const { formatReport, parseTrace, replayTrace } = await import("./printers/replay.ts");
  // The user's own quirks files count, as they would for the host.
  const { sources } = await loadQuirkSources(values["data-dir"] ?? defaultDataDir());
  const trace = parseTrace(await file.text());
  if (trace.entries.length === 0) {
    console.error(`${path} holds no trace lines ({"t","dir","line"} per line).`);
    return 1;
  }
  const report = replayTrace(trace, new QuirksLibrary(sources));
  console.log(formatReport(path, report));
  return report.rerun.executedInOrder ? 0 : 1;
}

function flagName(path: string | null): string {
  // A list option's issue names the item (extraPorts.0); the flag is the list's.
  return (path ?? "options").replace(/\.\d+$/, "").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

// The host's own exit: process.exit refuses plugins (src/plugins/exit-guard.ts).
hostExit(await main(process.argv.slice(2)));
