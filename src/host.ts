/**
 * The composition root: opens storage, starts the printers and the HTTP server, and stops them
 * again. `main.ts` calls it for `layerline serve`; tests call it to run a real host on loopback.
 */
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { openDatabase } from "./db/database.ts";
import { SettingsStore } from "./db/settings.ts";
import { createBus, type Bus } from "./events.ts";
import { FileStorage } from "./files/storage.ts";
import { PrinterManager } from "./printers/manager.ts";
import { yieldToPrinters } from "./printers/priority.ts";
import { loadQuirkSources } from "./printers/quirks-sources.ts";
import { PrinterStore } from "./printers/store.ts";
import { QuirksLibrary } from "./protocol/quirks-library.ts";
import { createApp } from "./server/app.ts";
import type { VirtualPrinterOptionsInput } from "./virtual/options.ts";
import { VERSION } from "./version.ts";

export interface HostOptions {
  dataDir: string;
  port: number;
  host: string;
  /** Add (or update) a serial printer on this port and make it the default. */
  serial?: string;
  baud?: number;
  virtual?: VirtualPrinterOptionsInput;
  /** Lower the HTTP thread's priority below the printers' threads once they run (the CLI does). */
  yieldToPrinters?: boolean;
  /** Lines in flight for printers created now (default 4; 1 = ping-pong); each printer keeps its own. */
  window?: number;
  log?: (line: string) => void;
}

export interface Host {
  url: string;
  port: number;
  db: Database;
  settings: SettingsStore;
  bus: Bus;
  printers: PrinterManager;
  files: FileStorage;
  stop(): Promise<void>;
}

/** Thrown when the HTTP port is taken, so the CLI can say so plainly. */
export class PortInUseError extends Error {}

export async function startHost(options: HostOptions): Promise<Host> {
  const log = options.log ?? ((line: string) => console.log(line));
  const db = openDatabase(options.dataDir);
  const settings = new SettingsStore(db);
  const bus = createBus();
  const store = new PrinterStore(db);
  const { sources, problems } = await loadQuirkSources(options.dataDir);
  const library = new QuirksLibrary(sources);
  for (const p of [...problems, ...library.problems]) log(`warning: firmware quirks ${p.source}: ${p.field}: ${p.message} (file ignored)`);

  seedPrinters(store, options);

  const filesDir = join(options.dataDir, "files");
  let printers: PrinterManager | undefined;
  const files = new FileStorage(filesDir, db, () => printers?.filesInUse() ?? new Set());
  printers = new PrinterManager({ store, bus, filesDir, quirks: sources, virtual: options.virtual, traceDir: join(options.dataDir, "logs") });

  const app = createApp({ version: VERSION, db, settings, bus, printers, files, startedAt: Date.now() });
  try {
    app.listen({ port: options.port, hostname: options.host, maxRequestBodySize: 1024 * 1024 * 1024 });
  } catch (e) {
    await printers.stop();
    db.close();
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE" || /in use/i.test((e as Error).message)) {
      throw new PortInUseError(
        `Port ${options.port} is already in use (is another Layerline or OctoPrint running?). Choose another with --port.`,
      );
    }
    throw e;
  }
  printers.start();
  if (options.yieldToPrinters) yieldToPrinters();
  const port = app.server!.port!;
  return {
    url: `http://${options.host === "0.0.0.0" ? "127.0.0.1" : options.host}:${port}`,
    port,
    db,
    settings,
    bus,
    printers,
    files,
    async stop() {
      await app.stop(true);
      await printers!.stop();
      db.close();
    },
  };
}

/** First start: the virtual printer, unless a real one was named. `--serial` adds or updates one. */
function seedPrinters(store: PrinterStore, options: HostOptions): void {
  const now = Date.now();
  if (options.serial) {
    const baud = options.baud ?? 115200;
    const existing = store.findByPort(options.serial);
    const name = options.serial === "auto" ? "Printer (auto-detected)" : `Printer on ${options.serial.split("/").pop()}`;
    const record = existing ?? store.create({ name, transport: "serial", port: options.serial, baud, autoconnect: true, window: options.window ?? 4 }, now);
    if (existing) store.updateConnection(existing.id, options.serial, baud);
    store.setAutoconnect(record.id, true);
    store.setDefault(record.id);
  } else if (store.list().length === 0) {
    store.create({ name: "Virtual printer", transport: "virtual", baud: 115200, autoconnect: true, window: options.window ?? 4 }, now);
  }
}
