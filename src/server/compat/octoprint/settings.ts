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
import { CameraUrl, RATIOS, type Camera, type CameraPatch } from "../../../webcam/camera.ts";

const KEY = "octoprint.settings";

export const StoredSettingsSchema = v.object({
  appearanceName: v.optional(v.string(), ""),
  runAt: v.optional(v.picklist(["never", "idle", "always"]), "idle"),
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
  // The printer's camera (its upstream URLs); GET answers the host's own URLs of its picture.
  webcam: v.optional(
    v.object({
      streamUrl: v.optional(CameraUrl),
      snapshotUrl: v.optional(CameraUrl),
      flipH: v.optional(v.boolean()),
      flipV: v.optional(v.boolean()),
      rotate90: v.optional(v.boolean()),
      streamRatio: v.optional(v.picklist(RATIOS, `streamRatio is ${RATIOS.join(" or ")}`)),
    }),
  ),
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
    ...(update.temperature?.profiles ? { temperatureProfiles: update.temperature.profiles } : {}),
  });
}

/** `webcam` of a `POST /api/settings` as a change of the printer's camera (OctoPrint's rotate90 is 90° counter-clockwise). */
export function cameraPatchOf(webcam: NonNullable<v.InferOutput<typeof SettingsUpdateSchema>["webcam"]>, current: Camera): CameraPatch {
  return {
    streamUrl: webcam.streamUrl,
    snapshotUrl: webcam.snapshotUrl,
    flipH: webcam.flipH,
    flipV: webcam.flipV,
    ratio: webcam.streamRatio,
    rotate: webcam.rotate90 === undefined ? undefined : webcam.rotate90 ? 270 : current.rotate === 270 ? 0 : current.rotate,
  };
}

/** The host's URLs of a printer's picture as OctoPrint clients are given them (empty: no camera). */
export interface CameraRefs {
  stream: string;
  snapshot: string;
}

/** OctoPrint's `webcam` settings block (api_settings.json) for the printer's camera. */
export function webcamPayload(camera: Camera, refs: CameraRefs) {
  const compat = {
    cacheBuster: false,
    snapshot: refs.snapshot,
    snapshotSslValidation: true,
    snapshotTimeout: 5,
    stream: refs.stream,
    streamRatio: camera.ratio,
    streamTimeout: 5,
    streamWebrtcIceServers: ["stun:stun.l.google.com:19302"],
  };
  const flips = { flipH: camera.flipH, flipV: camera.flipV, rotate90: camera.rotate === 270 };
  return {
    bitrate: "10000k",
    cacheBuster: false,
    defaultWebcam: "classic",
    ffmpegCommandline: '{ffmpeg} -framerate {fps} -i "{input}" -vcodec {videocodec} -threads {threads} -b:v {bitrate} -f {containerformat} -y {filters} "{output}"',
    ffmpegPath: null,
    ffmpegThreads: 1,
    ffmpegVideoCodec: "libx264",
    ...flips,
    renderAfterPrintDelay: 0,
    snapshotSslValidation: true,
    snapshotTimeout: 5,
    snapshotUrl: refs.snapshot,
    snapshotWebcam: "classic",
    streamRatio: camera.ratio,
    streamTimeout: 5,
    streamUrl: refs.stream,
    streamWebrtcIceServers: compat.streamWebrtcIceServers,
    timelapseEnabled: true,
    watermark: false,
    webcamEnabled: refs.stream !== "" || refs.snapshot !== "",
    webcams: [
      {
        canSnapshot: refs.snapshot !== "",
        compat,
        displayName: "Classic Webcam",
        extras: { cacheBuster: false, stream: refs.stream, streamRatio: camera.ratio, streamTimeout: 5, streamWebrtcIceServers: compat.streamWebrtcIceServers },
        ...flips,
        name: "classic",
        provider: "classicwebcam",
        snapshotDisplay: "",
      },
    ],
  };
}

export function settingsPayload(s: StoredSettings, record: PrinterRecord, ports: string[], admin: boolean, webcam: ReturnType<typeof webcamPayload> | undefined) {
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
    webcam,
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
