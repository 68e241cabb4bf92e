/**
 * The plugin API's version and vocabulary: what a plugin may ask for (permissions), where it may
 * hook in (stages, scripts, UI slots, events) and the limits it runs under. Changing any of these
 * is an API change: add = minor version, remove or change meaning = major version (docs/plugins.md).
 */

/** The host plugin API's version (semver). Plugins declare the range they work with. */
export const PLUGIN_API_VERSION = "1.2.0";

/** What a plugin may ask for in its manifest; the host API refuses calls that need an ungranted one. */
export const PERMISSIONS = {
  "printer.commands": "send G-code to printers",
  "printer.jobs": "start, pause, resume and cancel prints",
  "files.read": "list and read the files in the files folder",
  "files.write": "add, replace and delete files",
  network: "talk to other machines (declared for the user; not enforced)",
} as const;
export type Permission = keyof typeof PERMISSIONS;

/** Serial-path stages a plugin can hook (in each printer's Worker). */
export const LINE_STAGES = ["queue", "send", "receive"] as const;
export type LineStage = (typeof LINE_STAGES)[number];

/** G-code scripts a plugin can add lines to (in each printer's Worker). */
export const SCRIPTS = ["afterConnected", "beforePrintStarted", "afterPrintDone", "afterPrintCancelled", "afterPrintPaused", "beforePrintResumed"] as const;
export type ScriptName = (typeof SCRIPTS)[number];

/** Named places in the UI where a plugin can render a fragment. */
export const SLOTS = ["dashboard.card", "settings.section", "navbar.item", "file.actions"] as const;
export type SlotName = (typeof SLOTS)[number];

/** Time budgets: a hook that takes longer is cut off (async) or its result discarded (sync), and counted as a fault. */
export const BUDGET_MS = {
  /** One serial-path hook call for one line, and one script hook. */
  line: 50,
  /** One event handler or periodic task run. */
  event: 2_000,
  task: 30_000,
  /** Rendering one UI fragment. */
  slot: 500,
  /** One plugin API route. */
  route: 10_000,
  /** `setup()` when the plugin is (re)loaded. */
  setup: 5_000,
} as const;

/** Faults (throws, rejections, budget overruns) after which a plugin is disabled across the host. */
export const FAULT_LIMIT = 3;

/** Plugin ids must look like this (the repository index's rule). */
export const PLUGIN_ID_RE = /^[a-z0-9][a-z0-9._-]*$/;
/** Ids that would collide with the plugins API's own paths. */
export const RESERVED_IDS = new Set(["install", "repository", "notices", "sdk", "layerline"]);
/** Paths under `/api/v1/plugins/<id>/` the host uses itself; plugin routes may not take them. */
export const RESERVED_ROUTES = new Set(["enable", "disable", "reload", "settings", "update", "log"]);
