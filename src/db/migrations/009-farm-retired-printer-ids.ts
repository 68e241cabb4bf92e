/**
 * Printer ids are never reused: an API key or session restricted to a removed printer, its
 * history rows (and the print times the time-left estimate averages per printer), its scripts
 * and profile all still name its id, and must not pass to a new printer of the same name.
 * Removed printers' ids are kept here; the ids already named by history, keys and sessions
 * without a printer are retired at once.
 */
export const m009_retired_printer_ids = `
CREATE TABLE retired_printer_ids (
  id         TEXT PRIMARY KEY,
  retired_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO retired_printer_ids (id, retired_at)
SELECT printer_id, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM (
  SELECT printer_id FROM print_history
  UNION SELECT printer_id FROM api_keys WHERE printer_id IS NOT NULL
  UNION SELECT printer_id FROM sessions WHERE printer_id IS NOT NULL
) WHERE printer_id NOT IN (SELECT id FROM printers);
`;
