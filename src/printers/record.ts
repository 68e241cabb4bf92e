/**
 * A printer as configured: what it is called and how to reach it. Many per host (principle 9).
 */
import * as v from "valibot";

export const BAUD_RATES = [250000, 230400, 115200, 57600, 38400, 19200, 9600] as const;

export const PrinterRecordSchema = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,39}$/)),
  name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(80)),
  transport: v.picklist(["virtual", "serial"]),
  /** Device path for serial printers, e.g. /dev/ttyUSB0; null for the virtual printer. */
  port: v.nullable(v.string()),
  baud: v.pipe(v.number(), v.integer(), v.minValue(300), v.maxValue(4_000_000)),
  autoconnect: v.boolean(),
  isDefault: v.boolean(),
  createdAt: v.number(),
});
export type PrinterRecord = v.InferOutput<typeof PrinterRecordSchema>;

/** Body of `POST /api/v1/printers`. */
export const NewPrinterSchema = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1, "name must not be empty"), v.maxLength(80)),
  transport: v.picklist(["virtual", "serial"], 'transport must be "virtual" or "serial"'),
  port: v.optional(v.pipe(v.string(), v.startsWith("/dev/", "port must be a device path such as /dev/ttyUSB0"))),
  baud: v.optional(v.pipe(v.number(), v.integer(), v.minValue(300), v.maxValue(4_000_000)), 115200),
  autoconnect: v.optional(v.boolean(), true),
});
export type NewPrinter = v.InferOutput<typeof NewPrinterSchema>;

/** Turns a display name into a URL-friendly id: "Ender 3 (left)" → "ender-3-left". */
export function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 32);
  return slug || "printer";
}
