/**
 * What the server's route plugins share: the running host's parts.
 */
import type { Database } from "bun:sqlite";
import type { SettingsStore } from "../db/settings.ts";
import type { Bus } from "../events.ts";
import type { FileStorage } from "../files/storage.ts";
import type { PrinterManager } from "../printers/manager.ts";
import type { UpdateManager } from "../update/manager.ts";

export interface AppContext {
  version: string;
  db: Database;
  settings: SettingsStore;
  bus: Bus;
  printers: PrinterManager;
  files: FileStorage;
  update: UpdateManager;
  startedAt: number;
}
