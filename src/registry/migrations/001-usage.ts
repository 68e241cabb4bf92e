/**
 * The registry service's own database (registry.sqlite in its data folder, never the host's):
 * one row per instance and day, replaced by each ping of that day, so storage grows with
 * instances × days kept, not with pings. No column holds an address, a file name or anything
 * about a person: an instance is the random id its host chose.
 */
export const m001_usage = `
CREATE TABLE instance_days (
  day TEXT NOT NULL,
  instance TEXT NOT NULL,
  host_version TEXT NOT NULL,
  platform TEXT NOT NULL,
  prints_started INTEGER NOT NULL DEFAULT 0,
  prints_finished INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, instance)
) WITHOUT ROWID;

CREATE TABLE instance_plugins (
  day TEXT NOT NULL,
  instance TEXT NOT NULL,
  plugin TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (day, instance, plugin)
) WITHOUT ROWID;
CREATE INDEX instance_plugins_by_plugin ON instance_plugins (plugin, day);

CREATE TABLE instance_firmware (
  day TEXT NOT NULL,
  instance TEXT NOT NULL,
  family TEXT NOT NULL,
  PRIMARY KEY (day, instance, family)
) WITHOUT ROWID;

CREATE TABLE plugin_events (
  day TEXT NOT NULL,
  instance TEXT NOT NULL,
  plugin TEXT NOT NULL,
  event TEXT NOT NULL CHECK (event IN ('install', 'uninstall')),
  version TEXT,
  PRIMARY KEY (day, instance, plugin, event)
) WITHOUT ROWID;

CREATE TABLE likes (
  instance TEXT NOT NULL,
  plugin TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (instance, plugin)
) WITHOUT ROWID;
CREATE INDEX likes_by_plugin ON likes (plugin);
`;
