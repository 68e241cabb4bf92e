/**
 * All printers of this host: loads them from the store, starts one session (and Worker) each,
 * connects those set to autoconnect, and retries links that failed for reasons that fix
 * themselves (a printer switched on later, a cable plugged back in).
 */
import type { Bus } from "../events.ts";
import type { JobLink } from "../jobs/service.ts";
import type { SerialPluginReport, SerialPluginSpec } from "../plugins/serial/protocol.ts";
import type { QuirksSource } from "../protocol/quirks-library.ts";
import { listSerialPorts } from "../transport/serial.ts";
import type { VirtualPrinterOptionsInput } from "../virtual/options.ts";
import type { NewPrinter, PrinterRecord, PrinterSettings } from "./record.ts";
import { PrinterSession } from "./session.ts";
import { MAX_PRINTERS, streamingFlags } from "./streaming-flags.ts";
import { isJobRunning } from "./status.ts";
import type { PrinterStore } from "./store.ts";

/** Problems worth retrying automatically; firmware errors are not (they need a person). */
const RETRYABLE = new Set(["not_found", "busy", "io", "closed", "no_response"]);
const RETRY_MS = 10_000;

export interface ManagerOptions {
  store: PrinterStore;
  bus: Bus;
  filesDir: string;
  quirks: QuirksSource[];
  /** Options for every virtual printer (tests speed it up). */
  virtual?: VirtualPrinterOptionsInput;
  /** Where each printer's flight recorder writes its rotating log. */
  traceDir?: string;
  /** Terminals offered as serial ports besides the system's, e.g. /dev/printer* (see listSerialPorts). */
  extraPorts?: readonly string[];
  retryMs?: number;
  /** The plugins with serial hooks every printer Worker runs (src/plugins/manager.ts). */
  plugins?: SerialPluginLink;
  /** Job plans, scripts and checkpoints (src/jobs/service.ts); set before `start`. */
  jobs?: JobLink;
  /** Which printer has which word of `streaming` (index: slot), whenever that changes. */
  slotsChanged?: (printers: (string | null)[]) => void;
}

/** How printers get their plugins: the current set, and where Workers' reports go. */
export interface SerialPluginLink {
  specs(): SerialPluginSpec[];
  report(printer: string, report: SerialPluginReport): void;
}

export class PrinterManager {
  private readonly sessions = new Map<string, PrinterSession>();
  /** One flag per printer, set by its Worker while a print or upload streams: the main thread's watchdog reads them. */
  readonly streaming = streamingFlags();
  private readonly slots = new Map<string, number>();
  /** Printers the user (or autoconnect) wants connected; a manual disconnect removes them. */
  private readonly wanted = new Set<string>();
  private readonly retries = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly options: ManagerOptions) {
    options.bus.on("printer.status", ({ id, status }) => {
      if (status.state === "error" && status.problem && RETRYABLE.has(status.problem.code)) this.scheduleRetry(id);
    });
  }

  /** Starts a session per stored printer and connects the autoconnect ones (without waiting). */
  start(): void {
    for (const record of this.options.store.list()) {
      this.open(record);
      if (record.autoconnect) void this.connect(record.id);
    }
  }

  list(): PrinterSession[] {
    return [...this.sessions.values()].sort((a, b) => Number(b.record.isDefault) - Number(a.record.isDefault));
  }

  /** The serial ports a printer could be on now (for the connect dialogs). */
  ports(): Promise<string[]> {
    return listSerialPorts(this.options.extraPorts)
      .then((ports) => ports.map((p) => p.path))
      .catch(() => []);
  }

  /** Where the flight recorders write their rotating logs, if anywhere. */
  get traceDir(): string | undefined {
    return this.options.traceDir;
  }

  get(id: string): PrinterSession | undefined {
    return this.sessions.get(id);
  }

  /** The default printer: the one the UI opens first and the OctoPrint `/api` maps to. */
  default(): PrinterSession | undefined {
    return this.list()[0];
  }

  /** Files being printed on any printer (they may not be deleted or replaced). */
  filesInUse(): Set<string> {
    const files = new Set<string>();
    for (const s of this.sessions.values()) {
      const job = s.status.job;
      if (job && isJobRunning(job.state)) files.add(job.file);
    }
    return files;
  }

  /** Connects and remembers that this printer should stay connected. */
  async connect(id: string) {
    const session = this.sessions.get(id)!;
    this.wanted.add(id);
    this.clearRetry(id);
    return session.connect();
  }

  async disconnect(id: string) {
    this.wanted.delete(id);
    this.clearRetry(id);
    return this.sessions.get(id)!.disconnect();
  }

  /** Adds a printer and connects it if asked to. */
  async add(input: NewPrinter): Promise<PrinterSession> {
    const record = this.options.store.create(input, Date.now());
    const session = this.open(record);
    this.options.bus.emit("printers.changed", undefined);
    if (record.autoconnect) void this.connect(record.id);
    return session;
  }

  /** Changes where an existing printer is reached (e.g. `--serial` on the command line). */
  updateConnection(id: string, port: string | null, baud: number): void {
    this.options.store.updateConnection(id, port, baud);
    const session = this.sessions.get(id);
    if (session) session.record = this.options.store.get(id)!;
  }

  /** Changes a printer's settings; a new port or rate applies at the next connection, the window at once. */
  async updateSettings(id: string, settings: PrinterSettings): Promise<void> {
    this.options.store.updateSettings(id, settings);
    const session = this.sessions.get(id);
    if (!session) return;
    session.record = this.options.store.get(id)!;
    if (settings.window !== undefined) await session.setWindow(settings.window);
    this.options.bus.emit("printers.changed", undefined);
  }

  async remove(id: string): Promise<void> {
    const session = this.sessions.get(id);
    if (!session) return;
    this.wanted.delete(id);
    this.clearRetry(id);
    this.sessions.delete(id);
    await session.dispose();
    this.slots.delete(id);
    this.announceSlots();
    this.options.store.remove(id);
    for (const s of this.sessions.values()) s.record = this.options.store.get(s.id)!;
    this.options.bus.emit("printers.changed", undefined);
  }

  /** Disconnects every printer and stops their workers. */
  async stop(): Promise<void> {
    for (const id of this.retries.keys()) this.clearRetry(id);
    this.wanted.clear();
    await Promise.all([...this.sessions.values()].map((s) => s.dispose()));
    this.sessions.clear();
    this.slots.clear();
  }

  private open(record: PrinterRecord): PrinterSession {
    const taken = new Set(this.slots.values());
    let slot = this.slots.get(record.id) ?? 0;
    while (!this.slots.has(record.id) && taken.has(slot)) slot++;
    if (slot >= MAX_PRINTERS) throw new Error(`at most ${MAX_PRINTERS} printers run on one host`);
    this.slots.set(record.id, slot);
    this.announceSlots();
    const session = new PrinterSession({
      record,
      quirks: this.options.quirks,
      filesDir: this.options.filesDir,
      bus: this.options.bus,
      virtual: this.options.virtual,
      traceDir: this.options.traceDir,
      extraPorts: this.options.extraPorts,
      plugins: this.options.plugins?.specs(),
      onPluginReport: (printer, report) => this.options.plugins?.report(printer, report),
      jobs: this.options.jobs,
      streaming: { flags: this.streaming, slot },
    });
    this.sessions.set(record.id, session);
    this.options.jobs?.opened(session);
    return session;
  }

  private announceSlots(): void {
    const printers: (string | null)[] = [];
    for (const [id, slot] of this.slots) printers[slot] = id;
    this.options.slotsChanged?.(Array.from(printers, (id) => id ?? null));
  }

  private scheduleRetry(id: string): void {
    if (!this.wanted.has(id) || this.retries.has(id)) return;
    this.retries.set(
      id,
      setTimeout(() => {
        this.retries.delete(id);
        const session = this.sessions.get(id);
        if (session && this.wanted.has(id) && session.status.state === "error") void session.connect();
      }, this.options.retryMs ?? RETRY_MS),
    );
  }

  private clearRetry(id: string): void {
    const t = this.retries.get(id);
    if (t) clearTimeout(t);
    this.retries.delete(id);
  }
}
