/** Issue #7: plugins' state (enabled, why disabled, where installed from), settings and private data. */
export const m003_plugins = `
CREATE TABLE plugin_state (
  id             TEXT PRIMARY KEY,
  enabled        INTEGER NOT NULL DEFAULT 1,
  reason         TEXT,
  source         TEXT CHECK (source IN ('upload', 'url', 'repository')),
  archive_sha256 TEXT,
  installed_at   INTEGER,
  updated_at     INTEGER
);

CREATE TABLE plugin_settings (
  plugin TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);

CREATE TABLE plugin_data (
  plugin TEXT NOT NULL,
  key    TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (plugin, key)
);
`;
