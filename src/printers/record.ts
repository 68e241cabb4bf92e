/**
 * A printer as configured: what it is called and how to reach it. Many per host (principle 9).
 */
import * as v from "valibot";

export const BAUD_RATES = [250000, 230400, 115200, 57600, 38400, 19200, 9600] as const;

/** Lines in flight of a new printer: Marlin's default command buffer holds 4. */
export const DEFAULT_WINDOW = 4;
/** Lines in flight: 1 = one at a time (ping-pong); more only with a firmware that reports its buffers (ADVANCED_OK). */
export const WindowSchema = v.pipe(v.number("window must be a number"), v.integer("window must be a whole number"), v.minValue(1, "window must be 1 to 32"), v.maxValue(32, "window must be 1 to 32"));
/** A serial port path (a device, or a pseudo-tty such as Klipper's /tmp/printer), or `auto` to find the printer on any port and rate. */
export const PortSchema = v.pipe(
  v.string(),
  v.check((p) => p === "auto" || p.startsWith("/"), 'port must be an absolute path such as /dev/ttyUSB0 (or Klipper\'s /tmp/printer), or "auto"'),
);

export const PrinterRecordSchema = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,39}$/)),
  name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(80)),
  transport: v.picklist(["virtual", "serial"]),
  /** Device path for serial printers, e.g. /dev/ttyUSB0, or `auto`; null for the virtual printer. */
  port: v.nullable(v.string()),
  baud: v.pipe(v.number(), v.integer(), v.minValue(300), v.maxValue(4_000_000)),
  /** Lines in flight allowed (see {@link WindowSchema}). */
  window: WindowSchema,
  autoconnect: v.boolean(),
  isDefault: v.boolean(),
  createdAt: v.number(),
});
export type PrinterRecord = v.InferOutput<typeof PrinterRecordSchema>;

/** Body of `POST /api/v1/printers`. */
export const NewPrinterSchema = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1, "name must not be empty"), v.maxLength(80)),
  transport: v.picklist(["virtual", "serial"], 'transport must be "virtual" or "serial"'),
  port: v.optional(PortSchema),
  baud: v.optional(v.pipe(v.number(), v.integer(), v.minValue(300), v.maxValue(4_000_000)), 115200),
  autoconnect: v.optional(v.boolean(), true),
  window: v.optional(WindowSchema, DEFAULT_WINDOW),
});
export type NewPrinter = v.InferOutput<typeof NewPrinterSchema>;
export type NewPrinterInput = v.InferInput<typeof NewPrinterSchema>;

/** Body of `PATCH /api/v1/printers/:id`: the settings that can change after creation. */
export const PrinterSettingsSchema = v.object({
  name: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, "name must not be empty"), v.maxLength(80))),
  port: v.optional(PortSchema),
  baud: v.optional(v.pipe(v.number(), v.integer(), v.minValue(300), v.maxValue(4_000_000))),
  window: v.optional(WindowSchema),
});
export type PrinterSettings = v.InferOutput<typeof PrinterSettingsSchema>;

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
