/**
 * Accounts: groups with their permissions, users, browser/socket sessions and API keys; and who
 * uploaded which file through the OctoPrint API (its file entries name the uploader) (issue #6).
 */
export const m004_accounts = `
CREATE TABLE groups (
  key         TEXT PRIMARY KEY,
  permissions TEXT NOT NULL
);
INSERT INTO groups (key, permissions) VALUES
  ('admins',   '["status","control","files.upload","files.delete","print","settings","plugins","update","admin"]'),
  ('users',    '["status","control","files.upload","files.delete","print"]'),
  ('readonly', '["status"]'),
  ('guests',   '[]');

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  group_key     TEXT NOT NULL REFERENCES groups(key),
  active        INTEGER NOT NULL DEFAULT 1,
  created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
  digest      TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf        TEXT NOT NULL,
  mechanism   TEXT NOT NULL,
  scope       TEXT,
  printer_id  TEXT,
  api_key_id  TEXT,
  remember    INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  digest       TEXT NOT NULL UNIQUE,
  hint         TEXT NOT NULL,
  scope        TEXT NOT NULL,
  printer_id   TEXT,
  app          TEXT,
  expires_at   INTEGER,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE octoprint_uploads (
  path      TEXT PRIMARY KEY,
  user_name TEXT NOT NULL
);
`;
