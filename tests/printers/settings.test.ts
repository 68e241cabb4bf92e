/**
 * Printer settings at the edge: `--serial auto` and `port: "auto"` are accepted, the send window
 * is 1–32, and the store keeps it.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { ServeOptionsSchema } from "../../src/config.ts";
import { openDatabase } from "../../src/db/database.ts";
import { NewPrinterSchema, PrinterSettingsSchema } from "../../src/printers/record.ts";
import { PrinterStore } from "../../src/printers/store.ts";

test("auto is a port, and an absolute path is one too; anything else is refused with the reason", () => {
  const serve = { port: 5000, host: "0.0.0.0", dataDir: "/tmp/x", baud: 115200, virtualTimeScale: 1, virtualPersonality: "marlin2" };
  expect(v.safeParse(ServeOptionsSchema, { ...serve, serial: "auto" }).success).toBe(true);
  expect(v.safeParse(ServeOptionsSchema, { ...serve, serial: "/dev/ttyUSB0" }).success).toBe(true);
  const bad = v.safeParse(ServeOptionsSchema, { ...serve, serial: "ttyUSB0" });
  expect(bad.success ? "" : bad.issues[0].message).toContain('"auto"');
  expect(v.parse(NewPrinterSchema, { name: "P", transport: "serial", port: "auto" })).toMatchObject({ port: "auto", window: 4 });
  // Klipper's pseudo-tty lives outside /dev.
  expect(v.parse(NewPrinterSchema, { name: "K", transport: "serial", port: "/tmp/printer" })).toMatchObject({ port: "/tmp/printer" });
  const relative = v.safeParse(NewPrinterSchema, { name: "P", transport: "serial", port: "ttyUSB0" });
  expect(relative.success ? "" : relative.issues[0].message).toContain("absolute path");
  expect(v.parse(ServeOptionsSchema, { ...serve, extraPorts: ["/dev/printer*"] }).extraPorts).toEqual(["/dev/printer*"]);
  expect(v.safeParse(ServeOptionsSchema, { ...serve, extraPorts: ["printer*"] }).success).toBe(false);
  expect(v.safeParse(PrinterSettingsSchema, { window: 0 }).success).toBe(false);
  expect(v.safeParse(PrinterSettingsSchema, { window: 33 }).success).toBe(false);
  expect(v.safeParse(PrinterSettingsSchema, { window: 2.5 }).success).toBe(false);
});

test("the store keeps each printer's window; the migration gives existing printers 4", () => {
  const dir = mkdtempSync(join(tmpdir(), "layerline-settings-"));
  try {
    const db = openDatabase(dir);
    const store = new PrinterStore(db);
    const a = store.create(v.parse(NewPrinterSchema, { name: "A", transport: "virtual" }), 1);
    const b = store.create(v.parse(NewPrinterSchema, { name: "B", transport: "serial", port: "/dev/ttyUSB0", window: 1 }), 2);
    expect([a.window, b.window]).toEqual([4, 1]);
    store.updateSettings(a.id, { window: 8, name: "A2" });
    expect(store.get(a.id)).toMatchObject({ window: 8, name: "A2" });
    expect(() => db.query("UPDATE printers SET send_window = 0 WHERE id = ?").run(a.id)).toThrow();
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
