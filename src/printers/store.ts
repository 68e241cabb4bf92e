/**
 * Printer records in sqlite.
 */
import type { Database } from "bun:sqlite";
import { slugify, type NewPrinter, type PrinterRecord, type PrinterSettings } from "./record.ts";

interface Row {
  id: string;
  name: string;
  transport: "virtual" | "serial";
  port: string | null;
  baud: number;
  autoconnect: number;
  is_default: number;
  created_at: number;
  send_window: number;
}

const toRecord = (r: Row): PrinterRecord => ({
  id: r.id,
  name: r.name,
  transport: r.transport,
  port: r.port,
  baud: r.baud,
  window: r.send_window,
  autoconnect: r.autoconnect === 1,
  isDefault: r.is_default === 1,
  createdAt: r.created_at,
});

export class PrinterStore {
  constructor(private readonly db: Database) {}

  /** All printers, the default first, then by creation. */
  list(): PrinterRecord[] {
    return (this.db.query("SELECT * FROM printers ORDER BY is_default DESC, created_at, id").all() as Row[]).map(toRecord);
  }

  get(id: string): PrinterRecord | undefined {
    const row = this.db.query("SELECT * FROM printers WHERE id = ?").get(id) as Row | null;
    return row ? toRecord(row) : undefined;
  }

  /** The serial printer on `port`, if one is configured. */
  findByPort(port: string): PrinterRecord | undefined {
    const row = this.db.query("SELECT * FROM printers WHERE port = ?").get(port) as Row | null;
    return row ? toRecord(row) : undefined;
  }

  /**
   * Adds a printer with a unique id derived from its name — never one a removed printer had (keys,
   * history and settings may still name it); the first printer becomes the default.
   */
  create(input: NewPrinter, now: number): PrinterRecord {
    const base = slugify(input.name);
    const taken = this.db.query("SELECT 1 FROM printers WHERE id = ?1 UNION ALL SELECT 1 FROM retired_printer_ids WHERE id = ?1");
    let id = base;
    for (let i = 2; taken.get(id); i++) id = `${base}-${i}`;
    const isFirst = (this.db.query("SELECT COUNT(*) AS n FROM printers").get() as { n: number }).n === 0;
    this.db
      .query(
        "INSERT INTO printers (id, name, transport, port, baud, autoconnect, is_default, created_at, send_window) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(id, input.name, input.transport, input.port ?? null, input.baud, input.autoconnect ? 1 : 0, isFirst ? 1 : 0, now, input.window);
    return this.get(id)!;
  }

  /** Updates the connection settings of a printer. */
  updateConnection(id: string, port: string | null, baud: number): void {
    this.db.query("UPDATE printers SET port = ?, baud = ? WHERE id = ?").run(port, baud, id);
  }

  /** Changes the settings given (name, port, baud, send window). */
  updateSettings(id: string, settings: PrinterSettings): void {
    const columns: [string, string | number][] = [];
    if (settings.name !== undefined) columns.push(["name", settings.name]);
    if (settings.port !== undefined) columns.push(["port", settings.port]);
    if (settings.baud !== undefined) columns.push(["baud", settings.baud]);
    if (settings.window !== undefined) columns.push(["send_window", settings.window]);
    if (columns.length === 0) return;
    this.db.query(`UPDATE printers SET ${columns.map(([c]) => `${c} = ?`).join(", ")} WHERE id = ?`).run(...columns.map(([, v]) => v), id);
  }

  /** Makes `id` the default printer (the one the UI opens and the OctoPrint API's `/api` maps to). */
  setDefault(id: string): void {
    this.db.transaction(() => {
      this.db.query("UPDATE printers SET is_default = 0").run();
      this.db.query("UPDATE printers SET is_default = 1 WHERE id = ?").run(id);
    })();
  }

  setAutoconnect(id: string, on: boolean): void {
    this.db.query("UPDATE printers SET autoconnect = ? WHERE id = ?").run(on ? 1 : 0, id);
  }

  /** Removes a printer (its id is retired); if it was the default, the oldest remaining one takes over. */
  remove(id: string, now = Date.now()): void {
    this.db.transaction(() => {
      this.db.query("DELETE FROM printers WHERE id = ?").run(id);
      this.db.query("INSERT OR IGNORE INTO retired_printer_ids (id, retired_at) VALUES (?, ?)").run(id, now);
      const hasDefault = this.db.query("SELECT 1 FROM printers WHERE is_default = 1").get();
      if (!hasDefault) {
        this.db.query("UPDATE printers SET is_default = 1 WHERE id = (SELECT id FROM printers ORDER BY created_at, id LIMIT 1)").run();
      }
    })();
  }
}
