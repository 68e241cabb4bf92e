/**
 * Whether a printer's firmware can run a file, as far as the file itself says: the G-code flavour
 * its slicer wrote it for, and the macros it calls. Conservative, and all in the two tables
 * below: only a file that needs one firmware's own dialect is refused, and only by a printer whose
 * firmware the table knows to be another; an unknown flavour, an unknown firmware (never
 * connected, or not recognised) or a flavour most firmware runs (marlin, reprap…) is no opinion.
 * Pure.
 */

interface Dialect {
  /** How the file says so: the slicer flavours (lower-case) that mean this dialect. */
  flavours: readonly string[];
  /** Calling macros (Klipper-style extended commands) means this dialect too. */
  macros: boolean;
  name: string;
  /** The firmware families (firmware-quirks ids) that run it. */
  runsOn: readonly string[];
  /** What goes wrong elsewhere, after "the printer runs X firmware, which". */
  elsewhere: string;
}

const DIALECTS: readonly Dialect[] = [
  {
    flavours: ["klipper"],
    macros: true,
    name: "Klipper",
    runsOn: ["klipper"],
    elsewhere: "skips Klipper's commands as unknown — with them whatever they do, such as heating and homing in a start macro",
  },
  {
    flavours: ["reprapfirmware"],
    macros: false,
    name: "RepRapFirmware",
    runsOn: ["rrf"],
    elsewhere: "reads its temperature commands (G10 P… S…) as retractions and does not know its waits (M116)",
  },
  {
    flavours: ["ultigcode"],
    macros: false,
    name: "UltiGCode (Ultimaker 2)",
    runsOn: ["ultimaker2"],
    elsewhere: "would not heat: the file leaves heating and retraction to an Ultimaker 2's own firmware",
  },
];

/**
 * The firmware families the table knows, by firmware-quirks id: a printer's nearest one along its
 * profile's `extends` decides (a user's profile extending `klipper` is Klipper). Not `generic`: an
 * unrecognised firmware is no opinion.
 */
const FAMILIES: Readonly<Record<string, string>> = {
  klipper: "Klipper",
  marlin2: "Marlin",
  ultimaker2: "Ultimaker 2 (Marlin)",
  rrf: "RepRapFirmware",
  repetier: "Repetier",
  smoothieware: "Smoothieware",
  teacup: "Teacup",
  malyan: "Malyan",
  anycubic: "Anycubic stock",
};

/** What a file needs of the firmware, and how it says so. */
export interface FirmwareNeed {
  dialect: string;
  /** In words: "it was sliced for Klipper (gcode_flavor klipper)". */
  evidence: string;
}

/** From the file's analysis: the slicer's flavour (lower-case) and the macros it calls. null: any firmware. */
export function firmwareNeed(flavour: string | null, macros: readonly string[]): FirmwareNeed | null {
  const byFlavour = flavour === null ? undefined : DIALECTS.find((d) => d.flavours.includes(flavour));
  if (byFlavour) return { dialect: byFlavour.name, evidence: `it was sliced for ${byFlavour.name} (G-code flavour "${flavour}")` };
  const byMacros = macros.length > 0 ? DIALECTS.find((d) => d.macros) : undefined;
  if (byMacros) return { dialect: byMacros.name, evidence: `it calls ${byMacros.name} macros (${macros.slice(0, 3).join(", ")}${macros.length > 3 ? ", …" : ""})` };
  return null;
}

/**
 * Why a printer's firmware cannot run the file, in words; null when it can or either side is
 * unknown. `lineage`: the printer's firmware family and those it extends, nearest first
 * (["prusa", "marlin2", "generic"]); null before the printer ever said what it runs.
 */
export function firmwareMisfit(need: FirmwareNeed | null, lineage: readonly string[] | null): string | null {
  if (!need || !lineage) return null;
  const family = lineage.find((id) => id in FAMILIES);
  const dialect = DIALECTS.find((d) => d.name === need.dialect);
  if (family === undefined || !dialect || dialect.runsOn.includes(family)) return null;
  return `${need.evidence}; the printer runs ${FAMILIES[family]} firmware, which ${dialect.elsewhere}`;
}
