/**
 * A backup's manifest (`manifest.json`, the archive's first entry): which Layerline and database
 * schema wrote it, when, what it holds and how big each part is. Checked before anything of a
 * backup is used.
 */
import * as v from "valibot";

/** The parts a backup may hold, as folders (or the database file) in the data folder. */
export const PARTS = ["database", "files", "plugins", "firmware-quirks", "timelapse"] as const;
export type Part = (typeof PARTS)[number];

const Bytes = v.pipe(v.number(), v.integer(), v.minValue(0));

export const BackupManifestSchema = v.object({
  format: v.literal(1, "the backup format must be 1"),
  /** The Layerline version that made the backup. */
  layerline: v.pipe(v.string(), v.minLength(1)),
  /** The database's schema version (the number of migrations applied). */
  schema: v.pipe(v.number(), v.integer(), v.minValue(0)),
  createdAt: v.pipe(v.string(), v.isoTimestamp()),
  includes: v.pipe(v.array(v.picklist(PARTS)), v.check((l) => l.includes("database"), "a backup always includes the database")),
  /** Uncompressed bytes of each part included. */
  sizes: v.record(v.picklist(PARTS), Bytes),
  /** Files (not folders) in the archive besides the manifest. */
  entries: Bytes,
});
export type BackupManifest = v.InferOutput<typeof BackupManifestSchema>;

export const MANIFEST_ENTRY = "manifest.json";

/** A moment as it appears in backup and kept-aside folder names: `20260123-093000` (UTC). */
export const fileStamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
