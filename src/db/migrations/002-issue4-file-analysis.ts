/** Issue #4: content hashes of files, their analyses and thumbnails (both keyed by content). */
export const m002_file_analysis = `
ALTER TABLE files ADD COLUMN sha256 TEXT;
ALTER TABLE files ADD COLUMN mtime INTEGER;
CREATE INDEX files_sha256 ON files (sha256);

CREATE TABLE file_analyses (
  sha256           TEXT PRIMARY KEY,
  status           TEXT NOT NULL CHECK (status IN ('done', 'error')),
  analyser_version INTEGER NOT NULL,
  result           TEXT,
  summary          TEXT,
  error_code       TEXT,
  error_message    TEXT,
  error_hint       TEXT,
  analysed_at      INTEGER NOT NULL
);

CREATE TABLE file_thumbnails (
  sha256 TEXT NOT NULL,
  width  INTEGER NOT NULL,
  height INTEGER NOT NULL,
  format TEXT NOT NULL CHECK (format IN ('png', 'jpg')),
  data   BLOB NOT NULL,
  PRIMARY KEY (sha256, width, height)
);
`;
