/**
 * Issue #5: print history (one row per job, written when it starts and completed when it ends, so
 * a crash leaves a trace) and a print queue per printer with its mode and waiting state (written
 * before it is acted on, so it survives restarts). History keeps the printer's id and name as
 * text: it outlives a removed printer. The queue goes with its printer.
 */
export const m006_history_queue = `
CREATE TABLE print_history (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id       TEXT NOT NULL UNIQUE,
  printer_id   TEXT NOT NULL,
  printer_name TEXT NOT NULL,
  file         TEXT NOT NULL,
  source       TEXT NOT NULL CHECK (source IN ('host', 'sd')),
  sha256       TEXT,
  size         INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  ended_at     INTEGER,
  print_time   REAL NOT NULL DEFAULT 0,
  outcome      TEXT CHECK (outcome IN ('done', 'cancelled', 'failed')),
  reason       TEXT,
  filament_mm  REAL NOT NULL DEFAULT 0,
  resumed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX print_history_started ON print_history (started_at);
CREATE INDEX print_history_sha256 ON print_history (sha256, printer_id);
CREATE INDEX print_history_printer ON print_history (printer_id, started_at);

CREATE TABLE print_queue_items (
  id         TEXT PRIMARY KEY,
  printer_id TEXT NOT NULL REFERENCES printers (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  file       TEXT NOT NULL,
  sha256     TEXT,
  added_at   INTEGER NOT NULL,
  added_by   TEXT
);
CREATE INDEX print_queue_items_printer ON print_queue_items (printer_id, position);

CREATE TABLE print_queues (
  printer_id   TEXT PRIMARY KEY REFERENCES printers (id) ON DELETE CASCADE,
  mode         TEXT NOT NULL DEFAULT 'confirm' CHECK (mode IN ('auto', 'confirm')),
  state        TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'printing', 'awaiting-confirmation')),
  current_file TEXT,
  last_outcome TEXT CHECK (last_outcome IN ('done', 'cancelled', 'failed')),
  notice       TEXT,
  notice_level TEXT CHECK (notice_level IN ('info', 'warning')),
  notice_at    INTEGER,
  updated_at   INTEGER NOT NULL
);
`;
