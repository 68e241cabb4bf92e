/**
 * What the server's route plugins share: the running host's parts.
 */
import type { Database } from "bun:sqlite";
import type { Accounts } from "../accounts/accounts.ts";
import type { SettingsStore } from "../db/settings.ts";
import type { Bus } from "../events.ts";
import type { FileStorage } from "../files/storage.ts";
import type { PrinterManager } from "../printers/manager.ts";

export interface AppContext {
  version: string;
  db: Database;
  settings: SettingsStore;
  bus: Bus;
  printers: PrinterManager;
  files: FileStorage;
  startedAt: number;
  accounts: Accounts;
  /** With --setup-token, first-run setup needs this token (and then works from any address). */
  setupToken?: string;
}
