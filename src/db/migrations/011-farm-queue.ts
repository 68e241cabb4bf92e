/**
 * The farm queue: one queue for all printers (files with a number of copies, in order), the
 * copies handed to printers (which printer took which copy, and how it ended), and per printer
 * what the farm knows of its bed (cleared by a user since its last print?) and whether it starts
 * the next print by itself. Written before it is acted on, so a restart loses nothing.
 */
export const m011_farm_queue = `
CREATE TABLE farm_queue_items (
  id         TEXT PRIMARY KEY,
  position   INTEGER NOT NULL,
  file       TEXT NOT NULL,
  sha256     TEXT,
  copies     INTEGER NOT NULL CHECK (copies >= 1),
  added_at   INTEGER NOT NULL,
  added_by   TEXT
);
CREATE INDEX farm_queue_items_position ON farm_queue_items (position);

CREATE TABLE farm_queue_runs (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  item_id    TEXT REFERENCES farm_queue_items (id) ON DELETE SET NULL,
  printer_id TEXT NOT NULL,
  file       TEXT NOT NULL,
  job_id     TEXT,
  started_at INTEGER NOT NULL,
  ended_at   INTEGER,
  outcome    TEXT CHECK (outcome IN ('done', 'cancelled', 'failed')),
  reason     TEXT
);
CREATE INDEX farm_queue_runs_item ON farm_queue_runs (item_id);
CREATE INDEX farm_queue_runs_open ON farm_queue_runs (printer_id, ended_at);

CREATE TABLE farm_printers (
  printer_id TEXT PRIMARY KEY REFERENCES printers (id) ON DELETE CASCADE,
  bed        TEXT NOT NULL DEFAULT 'clear' CHECK (bed IN ('clear', 'printing', 'printed', 'stopped')),
  auto_start INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
`;
