/**
 * What the server's route plugins share: the running host's parts.
 */
import type { Database } from "bun:sqlite";
import type { AnalysisQueue } from "../analysis/queue.ts";
import type { AnalysisStore } from "../analysis/store.ts";
import type { Accounts } from "../accounts/accounts.ts";
import type { SettingsStore } from "../db/settings.ts";
import type { Bus } from "../events.ts";
import type { FileStorage } from "../files/storage.ts";
import type { MqttBridge } from "../mqtt/bridge.ts";
import type { ControlsService } from "../controls/service.ts";
import type { JobService } from "../jobs/service.ts";
import type { HistoryStore } from "../jobs/history.ts";
import type { PrintQueue } from "../jobs/queue.ts";
import type { FarmQueue } from "../farm/queue.ts";
import type { PluginService } from "../plugins/service.ts";
import type { PrinterManager } from "../printers/manager.ts";
import type { TrackingReporter } from "../tracking/reporter.ts";
import type { UpdateManager } from "../update/manager.ts";
import type { WebcamService } from "../webcam/service.ts";
import type { TimelapseService } from "../timelapse/service.ts";
import type { DiagnosticsService } from "../diagnostics/service.ts";
import type { BackupService } from "../backup/service.ts";

export interface AppContext {
  version: string;
  db: Database;
  settings: SettingsStore;
  bus: Bus;
  printers: PrinterManager;
  files: FileStorage;
  /** Analyses and thumbnails by content hash, and the queue that makes them. */
  analyses: AnalysisStore;
  analysis: AnalysisQueue;
  /** Job plans, scripts, printer profiles and crash recovery. */
  jobs: JobService;
  update: UpdateManager;
  /** Anonymous usage statistics (opt-in) and plugin stars. */
  tracking: TrackingReporter;
  plugins: PluginService;
  /** Print history and statistics per file; the print queue of each printer. */
  history: HistoryStore;
  queue: PrintQueue;
  /** The farm queue: one queue for all printers. */
  farm: FarmQueue;
  startedAt: number;
  accounts: Accounts;
  /** The MQTT bridge: its settings and connection state. */
  mqtt: MqttBridge;
  /** Custom controls: the host-wide definition, what pressing one sends, each printer's read-outs. */
  controls: ControlsService;
  /** The printers' cameras (config, shared streams, snapshots). */
  webcam: WebcamService;
  /** Timelapse settings, recording, rendering and the videos. */
  timelapse: TimelapseService;
  /** The self-diagnosis: findings on demand and on a schedule, the support bundle, whether the host is online. */
  diagnostics: DiagnosticsService;
  /** Backups in the data folder, and restoring one. */
  backups: BackupService;
  /** With --setup-token, first-run setup needs this token (and then works from any address). */
  setupToken?: string;
  /** Reverse proxies whose forwarding headers are believed (default: loopback). */
  trustedProxies?: readonly string[];
  /** Reads a second answered while a printer prints (0: no pacing); see `pacing.ts`. */
  printReadRate?: number;
}
