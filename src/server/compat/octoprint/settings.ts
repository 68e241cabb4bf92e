/**
 * The settings subset OctoPrint clients read (`feature.sdSupport`, `webcam.streamUrl`,
 * `gcodeAnalysis.runAt`, `plugins`, `appearance.name`, serial options) and the few they write,
 * plus the printer profile. Stored with SettingsStore under `octoprint.`, validated on read.
 */
import * as v from "valibot";
import type { SettingsStore } from "../../../db/settings.ts";
import type { PrinterRecord } from "../../../printers/record.ts";
import { BAUDRATES, PROFILE_ID, portOf } from "./state.ts";
import type { PrinterProfile } from "../../../printers/profile.ts";

const KEY = "octoprint.settings";

export const StoredSettingsSchema = v.object({
  appearanceName: v.optional(v.string(), ""),
  runAt: v.optional(v.picklist(["never", "idle", "always"]), "idle"),
  streamUrl: v.optional(v.string(), ""),
  snapshotUrl: v.optional(v.string(), ""),
  temperatureProfiles: v.optional(v.array(v.object({ name: v.string(), extruder: v.number(), bed: v.number() })), [
    { name: "ABS", extruder: 210, bed: 100 },
    { name: "PLA", extruder: 180, bed: 60 },
  ]),
});
type StoredSettings = v.InferOutput<typeof StoredSettingsSchema>;

/** `POST /api/settings`: the parts Layerline keeps; the rest of OctoPrint's tree is accepted and ignored. */
export const SettingsUpdateSchema = v.object({
  appearance: v.optional(v.object({ name: v.optional(v.pipe(v.string(), v.maxLength(80))) })),
  gcodeAnalysis: v.optional(v.object({ runAt: v.optional(v.picklist(["never", "idle", "always"], 'runAt is "never", "idle" or "always"')) })),
  webcam: v.optional(v.object({ streamUrl: v.optional(v.pipe(v.string(), v.maxLength(2048))), snapshotUrl: v.optional(v.pipe(v.string(), v.maxLength(2048))) })),
  temperature: v.optional(v.object({ profiles: v.optional(v.pipe(v.array(v.object({ name: v.string(), extruder: v.number(), bed: v.number() })), v.maxLength(50))) })),
});

export function readSettings(store: SettingsStore): StoredSettings {
  return store.get(KEY, StoredSettingsSchema, v.parse(StoredSettingsSchema, {}));
}

export function updateSettings(store: SettingsStore, update: v.InferOutput<typeof SettingsUpdateSchema>): void {
  const s = readSettings(store);
  store.set(KEY, {
    ...s,
    ...(update.appearance?.name !== undefined ? { appearanceName: update.appearance.name } : {}),
    ...(update.gcodeAnalysis?.runAt ? { runAt: update.gcodeAnalysis.runAt } : {}),
    ...(update.webcam?.streamUrl !== undefined ? { streamUrl: update.webcam.streamUrl } : {}),
    ...(update.webcam?.snapshotUrl !== undefined ? { snapshotUrl: update.webcam.snapshotUrl } : {}),
    ...(update.temperature?.profiles ? { temperatureProfiles: update.temperature.profiles } : {}),
  });
}

export function settingsPayload(s: StoredSettings, record: PrinterRecord, ports: string[], admin: boolean) {
  return {
    accessControl: { autologinHeadsupAcknowledged: false, autologinLocal: false },
    api: { allowCrossOrigin: false, ...(admin ? { key: null } : {}) },
    appearance: {
      closeModalsWithClick: true,
      color: "default",
      colorIcon: true,
      colorTransparent: false,
      defaultLanguage: "_default",
      fuzzyTimes: true,
      name: s.appearanceName || record.name,
      showFahrenheitAlso: false,
      showInternalFilename: true,
    },
    controls: [],
    devel: { pluginTimings: false },
    feature: {
      autoUppercaseBlacklist: ["M117", "M118"],
      enableDragDropUpload: true,
      fileDeleteConfirmation: true,
      g90InfluencesExtruder: false,
      keyboardControl: true,
      modelSizeDetection: true,
      pollWatched: false,
      printCancelConfirmation: true,
      printStartConfirmation: false,
      rememberFileFolder: false,
      sdSupport: true,
      temperatureGraph: true,
      uploadOverwriteConfirmation: true,
    },
    folder: { timelapse: null, uploads: null, watched: null },
    gcodeAnalysis: { bedZ: 0.0, runAt: s.runAt },
    plugins: {},
    scripts: { gcode: {} },
    serial: {
      autoconnect: record.autoconnect,
      baudrate: record.baud,
      baudrateOptions: BAUDRATES,
      port: portOf(record),
      portOptions: ports,
    },
    server: { allowFraming: false, commands: { serverRestartCommand: null, systemRestartCommand: null, systemShutdownCommand: null } },
    slicing: { defaultSlicer: null },
    system: { actions: [], events: null },
    temperature: { cutoff: 30, profiles: s.temperatureProfiles, sendAutomatically: false, sendAutomaticallyAfter: 1 },
    terminalFilters: [],
    webcam: {
      webcamEnabled: s.streamUrl !== "",
      timelapseEnabled: false,
      streamUrl: s.streamUrl,
      snapshotUrl: s.snapshotUrl,
      streamRatio: "16:9",
      streamTimeout: 5,
      flipH: false,
      flipV: false,
      rotate90: false,
      webcams: [],
    },
  };
}

/** `PATCH /api/printerprofiles/_default` body. */
export const ProfileUpdateSchema = v.object({ profile: v.record(v.string(), v.unknown()) });

export function profilePayload(p: PrinterProfile, resource: string) {
  return {
    id: PROFILE_ID,
    name: p.name,
    model: p.model,
    color: p.color,
    current: true,
    default: true,
    resource,
    heatedBed: p.heatedBed,
    heatedChamber: p.heatedChamber,
    volume: p.volume,
    extruder: { ...p.extruder, offsets: Array.from({ length: p.extruder.count }, () => [0.0, 0.0]) },
    axes: {
      x: { speed: 6000, inverted: false },
      y: { speed: 6000, inverted: false },
      z: { speed: 200, inverted: false },
      e: { speed: 300, inverted: false },
    },
  };
}
