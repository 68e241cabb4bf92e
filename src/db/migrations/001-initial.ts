/** Printers, settings and file metadata: the walking skeleton's data model. */
export const m001_initial = `
CREATE TABLE printers (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  transport   TEXT NOT NULL CHECK (transport IN ('virtual', 'serial')),
  port        TEXT,
  baud        INTEGER NOT NULL DEFAULT 115200,
  autoconnect INTEGER NOT NULL DEFAULT 1,
  is_default  INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL
);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE files (
  path        TEXT PRIMARY KEY,
  size        INTEGER NOT NULL,
  uploaded_at INTEGER NOT NULL
);
`;
