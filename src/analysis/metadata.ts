/**
 * Slicer metadata: what the slicer wrote about the print in the header and footer comments of a
 * G-code file (PrusaSlicer and its forks, BambuStudio, Cura, Creality Print, Simplify3D,
 * ideaMaker, KISSlicer, Slic3r, IceSL, Kiri:Moto). Pure: text of the first and last part of the
 * file in, figures out. Which slicer writes what, where: `shared/docs/slicer-metadata.md`.
 */
import type { SlicerMetadata } from "./result.ts";

/** How much of the start and the end of a file holds the metadata (as Moonraker reads it). */
export const METADATA_WINDOW = 1024 * 1024;

interface Source {
  head: string;
  tail: string;
  /** `; key = value` pairs (PrusaSlicer config block, Kiri, Bambu), footer wins. */
  config: Record<string, string>;
  /** `;key:value` / `; key: value` pairs (Cura, Bambu header, IceSL), first occurrence wins. */
  colon: Record<string, string>;
}

interface SlicerRule {
  /** Display name, or a function of the match (forks named in the generator line). */
  name: string | ((m: RegExpExecArray) => string);
  detect: RegExp;
  /** Group holding the version. */
  version?: number;
  extract: (src: Source, meta: SlicerMetadata) => void;
}

const num = (s: string | undefined): number | null => {
  if (s === undefined) return null;
  const n = Number.parseFloat(s.trim().replace(/^"|"$/g, ""));
  return Number.isFinite(n) ? n : null;
};

/** Numbers of a list "0.4,0.4" / "0.4;0.4" / "[0.4, 0.4]". */
const nums = (s: string | undefined): number[] =>
  s === undefined
    ? []
    : s
        .replace(/[[\]"]/g, "")
        .split(/[,;]/)
        .map((p) => Number.parseFloat(p.trim()))
        .filter((n) => Number.isFinite(n));

/** Strings of a list `"A";"B"` / `A;B` / `A,B`. */
const strs = (s: string | undefined, sep: RegExp = /;/): string[] =>
  s === undefined || s.trim() === ""
    ? []
    : s
        .split(sep)
        .map((p) => p.trim().replace(/^"|"$/g, ""))
        .filter((p) => p !== "");

const first = (values: number[]): number | null => values[0] ?? null;
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/** The first capture of `re` in `text` as a number. */
function find(text: string, re: RegExp): number | null {
  const m = re.exec(text);
  return m ? num(m[1]) : null;
}

/** The last capture of a global regex, as a number. */
function findLast(text: string, re: RegExp): number | null {
  let last: string | undefined;
  for (const m of text.matchAll(re)) last = m[1];
  return num(last);
}

/** The largest capture of a global regex. */
function findMax(text: string, re: RegExp): number | null {
  let max: number | null = null;
  for (const m of text.matchAll(re)) {
    const n = num(m[1]);
    if (n !== null && (max === null || n > max)) max = n;
  }
  return max;
}

/**
 * Seconds of a duration as slicers write it: "1d 0h 30m 8s", "2h 5m", "1 hours 2 minutes",
 * "01:02:03", or plain seconds.
 */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const clock = /^(\d+):(\d{1,2}):(\d{1,2})$/.exec(t);
  if (clock) return Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3]);
  let seconds = 0;
  let found = false;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)\s*(d|days?|h|hours?|hrs?|m|mins?|minutes?|s|secs?|seconds?)\b/gi)) {
    const n = Number(m[1]);
    const unit = m[2]!.toLowerCase();
    seconds += unit.startsWith("d") ? n * 86400 : unit.startsWith("h") ? n * 3600 : unit.startsWith("m") ? n * 60 : n;
    found = true;
  }
  return found ? seconds : null;
}

function keyValues(text: string, re: RegExp, into: Record<string, string>, overwrite: boolean): void {
  for (const m of text.matchAll(re)) {
    const key = m[1]!.trim();
    if (overwrite || !(key in into)) into[key] = m[2]!.trim();
  }
}

/** PrusaSlicer and its forks, and Slic3r: the footer has the summary and the config block. */
function prusaFamily(src: Source, meta: SlicerMetadata): void {
  const c = src.config;
  meta.estimatedTime = parseDuration(c["estimated printing time (normal mode)"] ?? c["estimated printing time"] ?? "") ?? parseBambuTime(src);
  const mm = nums(c["filament used [mm]"]);
  if (mm.length > 0) meta.filamentUsedMm = mm;
  else {
    // Slic3r: "; filament used = 8239.3mm (19.8cm3)"; Bambu: "total filament length [mm] : 1234"
    const slic3r = /^;\s*filament used\s*=\s*([\d.]+)mm/m.exec(src.tail);
    if (slic3r) meta.filamentUsedMm = [Number(slic3r[1])];
    const bambu = src.colon["total filament length [mm]"];
    if (bambu) meta.filamentUsedMm = nums(bambu);
  }
  const cm3 = nums(c["filament used [cm3]"]);
  if (cm3.length > 0) meta.filamentUsedCm3 = cm3;
  const g = nums(c["filament used [g]"]);
  if (g.length > 0) meta.filamentUsedG = g;
  meta.filamentWeightTotalG = num(c["total filament used [g]"]) ?? (g.length > 0 ? sum(g) : (num(src.colon["total filament weight [g]"]) ?? null));
  meta.layerHeight = first(nums(c["layer_height"]));
  const firstLayer = c["first_layer_height"] ?? c["initial_layer_print_height"];
  if (firstLayer?.trim().endsWith("%")) {
    const pct = num(firstLayer);
    meta.firstLayerHeight = pct !== null && meta.layerHeight !== null ? (pct / 100) * meta.layerHeight : null;
  } else meta.firstLayerHeight = first(nums(firstLayer));
  meta.nozzleDiameter = first(nums(c["nozzle_diameter"]));
  meta.temperatures = {
    firstLayerNozzle: first(nums(c["first_layer_temperature"] ?? c["nozzle_temperature_initial_layer"])),
    nozzle: first(nums(c["temperature"] ?? c["nozzle_temperature"])),
    firstLayerBed: first(nums(c["first_layer_bed_temperature"] ?? c["hot_plate_temp_initial_layer"] ?? c["bed_temperature_initial_layer_single"])),
    bed: first(nums(c["bed_temperature"] ?? c["hot_plate_temp"])),
    chamber: first(nums(c["chamber_temperature"])),
  };
  meta.filamentType = strs(c["filament_type"]);
  meta.filamentColour = strs(c["filament_colour"]);
  meta.filamentName = strs(c["filament_settings_id"]);
  meta.filamentDiameter = nums(c["filament_diameter"]);
  meta.filamentDensity = nums(c["filament_density"]);
  meta.layerCount = num(c["total layers count"]) ?? num(src.colon["total layer number"]) ?? null;
  meta.objectHeight = num(src.colon["max_z_height"]) ?? findMax(src.head + src.tail, /^;Z:([\d.]+)/gm) ?? findMax(src.tail, /^G1 Z([\d.]+)/gm);
  meta.printerModel = c["printer_model"] ?? c["printer_settings_id"]?.replace(/^"|"$/g, "") ?? null;
  meta.toolChanges = num(c["total toolchanges"]);
}

/** BambuStudio / Orca header: "; total estimated time: 1h 2m 3s" in a "; model printing time: …; total …" line. */
function parseBambuTime(src: Source): number | null {
  const m = /total estimated time:\s*([^;\n]+)/.exec(src.head);
  return m ? parseDuration(m[1]!) : null;
}

function cura(src: Source, meta: SlicerMetadata): void {
  const c = src.colon;
  meta.estimatedTime = findMax(src.head, /^;TIME:(\d+(?:\.\d+)?)/gm) ?? num(c["PRINT.TIME"]);
  const metres = c["Filament used"];
  if (metres) meta.filamentUsedMm = nums(metres.replace(/m/g, "")).map((m) => m * 1000);
  else {
    // Griffin flavour: per extruder volume in mm³.
    const volumes = Object.entries(c)
      .filter(([k]) => /^EXTRUDER_TRAIN\.\d+\.MATERIAL\.VOLUME_USED$/.test(k))
      .map(([, value]) => num(value) ?? 0);
    if (volumes.length > 0) meta.filamentUsedCm3 = volumes.map((v) => v / 1000);
  }
  const weights = /^;Filament weight = \[([^\]]*)\]/m.exec(src.head);
  if (weights) {
    meta.filamentUsedG = nums(weights[1]);
    meta.filamentWeightTotalG = sum(meta.filamentUsedG);
  }
  meta.layerHeight = num(c["Layer height"]);
  // Marlin flavour: ;MINZ / ;MAXZ; Griffin (Ultimaker) flavour: the print's bounding box.
  meta.firstLayerHeight = num(c["MINZ"]) ?? num(c["PRINT.SIZE.MIN.Z"]);
  meta.objectHeight = num(c["MAXZ"]) ?? num(c["PRINT.SIZE.MAX.Z"]);
  meta.layerCount = num(c["LAYER_COUNT"]);
  meta.nozzleDiameter = num(c["EXTRUDER_TRAIN.0.NOZZLE.DIAMETER"]);
  meta.temperatures = {
    firstLayerNozzle: num(c["EXTRUDER_TRAIN.0.INITIAL_TEMPERATURE"]) ?? find(src.head, /^M109 (?:.*?)S([\d.]+)/m),
    nozzle: null,
    firstLayerBed: num(c["BUILD_PLATE.INITIAL_TEMPERATURE"]) ?? find(src.head, /^M190 (?:.*?)S([\d.]+)/m),
    bed: null,
    chamber: find(src.head, /^M191 (?:.*?)S([\d.]+)/m),
  };
  const material = c["EXTRUDER_TRAIN.0.MATERIAL.GUID"];
  if (material) meta.filamentName = [material];
  meta.printerModel = c["TARGET_MACHINE.NAME"] ?? null;
}

function simplify3d(src: Source, meta: SlicerMetadata): void {
  const text = src.head + "\n" + src.tail;
  // v4 writes "key,value"; v5 writes "key = value".
  const setting = (key: string): string | undefined => {
    const m = new RegExp(`^;\\s+${key}\\s*(?:,|=)\\s*(.*)$`, "m").exec(text);
    return m?.[1]?.trim();
  };
  const build = /^;\s+Build [Tt]ime:\s*(.+)$/m.exec(text);
  meta.estimatedTime = build ? parseDuration(build[1]!) : null;
  const length = find(text, /^;\s+(?:Filament length|Material Length):\s*([\d.]+)\s*mm/m);
  if (length !== null) meta.filamentUsedMm = [length];
  const weight = find(text, /^;\s+(?:Plastic weight|Material Weight):\s*([\d.]+)\s*g/m);
  if (weight !== null) {
    meta.filamentUsedG = [weight];
    meta.filamentWeightTotalG = weight;
  }
  meta.layerHeight = num(setting("layerHeight"));
  meta.nozzleDiameter = first(nums(setting("extruderDiameter")));
  meta.filamentDiameter = nums(setting("filamentDiameters"));
  meta.filamentDensity = nums(setting("filamentDensities"));
  meta.filamentType = strs(setting("filamentTypes") ?? setting("filamentType"), /[,|]/);
  // Temperature controllers: "temperatureSetpointTemperatures,210,60" with "temperatureHeatedBed,0,1".
  const setpoints = nums(setting("temperatureSetpointTemperatures"));
  const heatedBed = nums(setting("temperatureHeatedBed"));
  const bedIndex = heatedBed.indexOf(1);
  const nozzleIndex = heatedBed.indexOf(0);
  meta.temperatures = {
    firstLayerNozzle: find(text, /^M109 (?:.*?)S([\d.]+)/m) ?? (nozzleIndex >= 0 ? (setpoints[nozzleIndex] ?? null) : null),
    nozzle: nozzleIndex >= 0 ? (setpoints[nozzleIndex] ?? null) : null,
    firstLayerBed: find(text, /^M190 (?:.*?)S([\d.]+)/m) ?? (bedIndex >= 0 ? (setpoints[bedIndex] ?? null) : null),
    bed: bedIndex >= 0 ? (setpoints[bedIndex] ?? null) : null,
    chamber: null,
  };
  meta.firstLayerHeight = findMinZ(src.head);
  meta.objectHeight = findMax(src.tail, /^G1 .*?Z([\d.]+)/gm);
}

function kisslicer(src: Source, meta: SlicerMetadata): void {
  const text = src.head + "\n" + src.tail;
  const c = src.config;
  const minutes = find(text, /Calculated[-\w ]*Build Time:\s*([\d.]+)\s*minutes/i) ?? find(text, /Estimated Build Time:\s*([\d.]+)\s*minutes/i);
  meta.estimatedTime = minutes !== null ? minutes * 60 : null;
  const ext = [...text.matchAll(/^;\s*Ext #\d+\s*=\s*([\d.]+)\s*mm/gm)].map((m) => Number(m[1]));
  if (ext.length > 0) meta.filamentUsedMm = ext;
  meta.layerHeight = num(c["max_layer_thickness_mm"]);
  meta.firstLayerHeight = num(c["first_layer_thickness_mm"]) ?? findMinZ(src.head);
  meta.nozzleDiameter = num(c["nozzle_dia_1"]) ?? num(c["extrusion_width_mm"]) ?? null;
  meta.objectHeight = findMax(text, /END_LAYER_OBJECT z=([\d.]+)/g);
  meta.temperatures = {
    firstLayerNozzle: num(c["first_layer_C"]) ?? num(c["temperature_C"]) ?? find(text, /^M109 (?:.*?)S([\d.]+)/m),
    nozzle: num(c["temperature_C"]),
    firstLayerBed: num(c["bed_C"]) ?? find(text, /^M190 (?:.*?)S([\d.]+)/m),
    bed: num(c["bed_C"]),
    chamber: null,
  };
}

function ideamaker(src: Source, meta: SlicerMetadata): void {
  const text = src.head + "\n" + src.tail;
  const c = src.colon;
  meta.estimatedTime = num(c["Print Time"]);
  const used = Object.entries(c)
    .filter(([k]) => /^Material#\d+ Used$/.test(k))
    .map(([, value]) => num(value) ?? 0);
  if (used.length > 0) meta.filamentUsedMm = used;
  const diameter = num(c["Filament Diameter #1"]) ?? num(c["Filament Diameter"]);
  const density = num(c["Filament Density #1"]) ?? num(c["Filament Density"]);
  if (diameter !== null) meta.filamentDiameter = [diameter];
  if (density !== null) meta.filamentDensity = [density];
  if (meta.filamentUsedMm && diameter && density) {
    // m = π/4 · d² · l · ρ (mm, g/cm³ → g)
    meta.filamentUsedG = meta.filamentUsedMm.map((l) => ((Math.PI / 4) * diameter * diameter * l * density) / 1000);
    meta.filamentWeightTotalG = sum(meta.filamentUsedG);
  }
  meta.firstLayerHeight = find(text, /^;LAYER:0\s*\n(?:;.*\n)*?;HEIGHT:\s*([\d.]+)/m);
  meta.layerHeight = find(text, /^;LAYER:1\s*\n(?:;.*\n)*?;HEIGHT:\s*([\d.]+)/m);
  const box = /^;Bounding Box:(.*)$/m.exec(text);
  meta.objectHeight = box ? (nums(box[1]!.replace(/\s+/g, ",")).at(-1) ?? null) : null;
  meta.nozzleDiameter = num(c["Nozzle Diameter #1"]) ?? num(c["Nozzle Diameter"]);
  meta.filamentName = c["Filament Name #1"] ? [c["Filament Name #1"]] : [];
  meta.temperatures = {
    firstLayerNozzle: find(text, /^M109 (?:.*?)[ST]([\d.]+)/m),
    nozzle: null,
    firstLayerBed: find(text, /^M190 (?:.*?)S([\d.]+)/m),
    bed: null,
    chamber: null,
  };
}

function iceSL(src: Source, meta: SlicerMetadata): void {
  const c = src.colon;
  meta.estimatedTime = num(c["estimated_print_time_s"]);
  const length = num(c["filament_total_length_mm"]);
  if (length !== null) meta.filamentUsedMm = [length];
  meta.layerHeight = num(c["z_layer_height_mm"]);
  meta.firstLayerHeight = num(c["z_layer_height_first_layer_mm"]) ?? meta.layerHeight;
  meta.objectHeight = num(c["print_height_mm"]);
  meta.nozzleDiameter = num(c["nozzle_diameter_mm_0"]);
  meta.filamentDiameter = num(c["filament_diameter_mm_0"]) !== null ? [num(c["filament_diameter_mm_0"])!] : [];
  meta.filamentType = c["filament_type_0"] ? [c["filament_type_0"]] : [];
  meta.filamentName = c["filament_name_0"] ? [c["filament_name_0"]] : [];
  meta.temperatures = {
    firstLayerNozzle: num(c["extruder_temp_degree_c_0"]),
    nozzle: num(c["extruder_temp_degree_c_0"]),
    firstLayerBed: num(c["bed_temp_degree_c"]),
    bed: num(c["bed_temp_degree_c"]),
    chamber: num(c["chamber_temp_degree_c"]),
  };
}

function kiriMoto(src: Source, meta: SlicerMetadata): void {
  const text = src.head + "\n" + src.tail;
  const c = src.config;
  meta.estimatedTime = find(text, /^; --- print time: ([\d.]+)s/m);
  const used = find(text, /^; --- filament used: ([\d.]+) mm/m);
  if (used !== null) meta.filamentUsedMm = [used];
  meta.layerHeight = num(c["sliceHeight"]);
  meta.firstLayerHeight = num(c["firstSliceHeight"]) ?? meta.layerHeight;
  meta.nozzleDiameter = num(c["nozzleSize"] ?? c["extruder_nozzle"]);
  meta.temperatures = {
    firstLayerNozzle: num(c["firstLayerNozzleTemp"]) ?? num(c["outputTemp"]),
    nozzle: num(c["outputTemp"]),
    firstLayerBed: num(c["firstLayerBedTemp"]) ?? num(c["outputBedTemp"]),
    bed: num(c["outputBedTemp"]),
    chamber: num(c["outputChamberTemp"]),
  };
  const lastLayer = findLast(text, /^;\s*(?:--- )?layer (\d+)/gm);
  meta.layerCount = lastLayer !== null ? lastLayer + 1 : null;
}

/** Smallest `G1 Z` in the header: the first layer height where the slicer does not say. */
function findMinZ(head: string): number | null {
  let min: number | null = null;
  for (const m of head.matchAll(/^G[01] [^;\n]*?Z([\d.]+)/gm)) {
    const z = Number(m[1]);
    if (z > 0 && (min === null || z < min)) min = z;
  }
  return min;
}

function unknown(src: Source, meta: SlicerMetadata): void {
  meta.firstLayerHeight = findMinZ(src.head);
  meta.objectHeight = findMax(src.tail, /^G[01] [^;\n]*?Z([\d.]+)/gm);
  meta.temperatures = {
    firstLayerNozzle: find(src.head, /^M109 (?:.*?)S([\d.]+)/m),
    nozzle: null,
    firstLayerBed: find(src.head, /^M190 (?:.*?)S([\d.]+)/m),
    bed: null,
    chamber: find(src.head, /^M191 (?:.*?)S([\d.]+)/m),
  };
}

/** Tried in order: specific signatures before the generic "generated by" line. */
const RULES: SlicerRule[] = [
  { name: "BambuStudio", detect: /^; BambuStudio\s*([\d.]+)/m, version: 1, extract: prusaFamily },
  { name: "Slic3r Prusa Edition", detect: /^; generated by Slic3r Prusa Edition ([\w.+-]+) on/m, version: 1, extract: prusaFamily },
  { name: "Slic3r", detect: /^; generated by Slic3r ([\w.+-]+) on/m, version: 1, extract: prusaFamily },
  { name: "Creality Print", detect: /Creality[ _]Print[ _]?V?([\d.]+)/i, version: 1, extract: (src, meta) => (/^;TIME:/m.test(src.head) ? cura(src, meta) : prusaFamily(src, meta)) },
  { name: "Cura", detect: /^;Generated with Cura_SteamEngine ([\w.+-]+)/m, version: 1, extract: cura },
  { name: "Simplify3D", detect: /Simplify3D\(R\) Version ([\w.+-]+)/, version: 1, extract: simplify3d },
  { name: "KISSlicer", detect: /^; KISSlicer[^\n]*\n(?:;[^\n]*\n)*?; version ([\w.+-]+)/m, version: 1, extract: kisslicer },
  { name: "ideaMaker", detect: /ideaMaker ([\w.+-]+),/, version: 1, extract: ideamaker },
  { name: "IceSL", detect: /<\s*IceSL\s+([^>]*?)\s*>/, version: 1, extract: iceSL },
  { name: "Kiri:Moto", detect: /^; Generated by Kiri:Moto\s*([\w.+-]*)/m, version: 1, extract: kiriMoto },
  // PrusaSlicer, SuperSlicer, OrcaSlicer, QIDISlicer, … — any fork that writes the generic line.
  { name: (m) => m[1]!, detect: /^; generated by ([A-Za-z][\w-]*(?: [A-Za-z][\w-]*)*?) V?([\d][\w.+-]*) on /m, version: 2, extract: prusaFamily },
];

/** An empty record: the slicer said nothing. */
export function emptyMetadata(): SlicerMetadata {
  return {
    slicer: null,
    slicerVersion: null,
    estimatedTime: null,
    filamentUsedMm: null,
    filamentUsedCm3: null,
    filamentUsedG: null,
    filamentWeightTotalG: null,
    layerHeight: null,
    firstLayerHeight: null,
    objectHeight: null,
    nozzleDiameter: null,
    layerCount: null,
    toolChanges: null,
    temperatures: { firstLayerNozzle: null, nozzle: null, firstLayerBed: null, bed: null, chamber: null },
    filamentType: [],
    filamentColour: [],
    filamentName: [],
    filamentDiameter: [],
    filamentDensity: [],
    printerModel: null,
    gcodeFlavour: null,
  };
}

export interface ExtractedMetadata {
  metadata: SlicerMetadata;
  /** The `; key = value` pairs of the file (PrusaSlicer's config block): the planner reads limits from it. */
  config: Record<string, string>;
}

/** Reads the slicer's figures from the text of the file's start and end (`METADATA_WINDOW` each). */
export function extractMetadata(head: string, tail: string): ExtractedMetadata {
  const config: Record<string, string> = {};
  const kvRe = /^;[ \t]*([^=\n;:]+?)[ \t]*=[ \t]*(.*)$/gm;
  keyValues(head, kvRe, config, false);
  keyValues(tail, kvRe, config, true);
  const colon: Record<string, string> = {};
  const colonRe = /^;[ \t]*([A-Za-z_][^:=\n]*?)[ \t]*:[ \t]*(.*)$/gm;
  keyValues(head, colonRe, colon, false);
  keyValues(tail, colonRe, colon, false);
  const src: Source = { head, tail, config, colon };
  const meta = emptyMetadata();
  const headStart = head.slice(0, 64 * 1024);
  // Whichever slicer wrote it: PrusaSlicer's family (and any file with its config block) or Cura.
  meta.gcodeFlavour = flavour(config["gcode_flavor"] ?? colon["FLAVOR"]);
  for (const rule of RULES) {
    const m = rule.detect.exec(headStart) ?? (rule.name === "Simplify3D" || rule.name === "Kiri:Moto" ? rule.detect.exec(tail) : null);
    if (!m) continue;
    meta.slicer = typeof rule.name === "string" ? rule.name : rule.name(m);
    meta.slicerVersion = rule.version !== undefined ? (m[rule.version] ?? null) || null : null;
    rule.extract(src, meta);
    return { metadata: meta, config };
  }
  unknown(src, meta);
  return { metadata: meta, config };
}

/** A flavour as one lower-case word: "klipper", Cura's "UltiGCode" → "ultigcode"; null for none or nonsense. */
function flavour(value: string | undefined): string | null {
  const word = value?.trim().replace(/^"|"$/g, "").toLowerCase();
  return word && /^[a-z0-9_() -]{1,40}$/.test(word) ? word : null;
}
