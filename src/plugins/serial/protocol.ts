/**
 * Messages about plugins between the main thread and the printer Workers. The main thread decides
 * which plugins run (compatibility, enabled, safe mode) and sends the set of those with serial
 * hooks; each Worker loads them itself and reports faults, load failures and log lines back.
 */
import type { LineStage, ScriptName } from "../api.ts";

/** A plugin a printer Worker should run. */
export interface SerialPluginSpec {
  id: string;
  /** The plugin's folder (absolute); every module under it is reloaded together. */
  dir: string;
  /** Absolute path of the entry module. */
  entry: string;
  /** Bumped on every reload, so a Worker knows to import it afresh. */
  generation: number;
  /** Current settings values (JSON). */
  settings: Record<string, unknown>;
  /** The printer session's number for it (1…), written where the watchdog reads which plugin runs. */
  tag?: number;
}

/**
 * Where a printer's Worker says which plugin code runs now, for its watchdog on the main thread
 * (a plugin stuck in a loop cannot report anything itself): an Int32Array of 3 on shared memory,
 * [tag of the plugin whose hook runs or 0, what runs (an index of this list), tag of the plugin
 * whose modules load or 0].
 */
export const IN_PLUGIN_WHAT = ["", "queue hook", "send hook", "receive hook", "script"] as const;
export type InPluginWhat = (typeof IN_PLUGIN_WHAT)[number];

/** Where a fault happened: a hook, or code the plugin runs on its own (its timer, its promise). */
export type FaultWhere = LineStage | ScriptName | "callback";

/** A fault's place in words ("send hook", "own timer or callback"). */
export const faultPlace = (where: FaultWhere): string => (where === "callback" ? "own timer or callback" : `${where} hook`);

/** What a Worker tells the main thread about a plugin. */
export type SerialPluginReport =
  | { kind: "fault"; plugin: string; where: FaultWhere; message: string }
  /** The Worker stopped running the plugin after too many faults. */
  | { kind: "disabled"; plugin: string; message: string }
  /** The plugin's code stopped answering; the printer's Worker was restarted without it (and a print there went on, or was interrupted). */
  | { kind: "hung"; plugin: string; message: string; print?: "went on" | "interrupted" }
  | { kind: "loadFailed"; plugin: string; message: string }
  | { kind: "loaded"; plugin: string; generation: number }
  | { kind: "log"; plugin: string; level: "info" | "warn" | "error"; message: string }
  /** Something left uncaught in the Worker that no plugin could be named for (the thread went on). */
  | { kind: "unattributed"; message: string };
