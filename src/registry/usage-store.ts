/**
 * The registry service's usage data: pings and likes in, the statistics exports out. A ping
 * replaces its instance's row for the day (print counts add up, install events are kept as
 * "this instance installed X that day"), so every export counts distinct instances as OctoPrint's
 * does. Rows older than the longest window are pruned at each export; likes are kept.
 */
import type { Database } from "bun:sqlite";
import type { Like, Ping } from "../tracking/payload.ts";
import type { InstanceStatsExport, PluginLikesExport, PluginStatsExport } from "./export-format.ts";

const DAY_MS = 86_400_000;
/** Days of pings kept: the 30-day window plus a little slack. */
export const KEEP_DAYS = 35;

/** `2026-01-02` (UTC) for a time in ms. */
export const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class UsageStore {
  constructor(private readonly db: Database) {}

  /** Stores one ping as its instance's record for the day it arrived. */
  recordPing(ping: Ping, now: number): void {
    const day = dayOf(now);
    const db = this.db;
    db.transaction(() => {
      db.query(
        `INSERT INTO instance_days (day, instance, host_version, platform, prints_started, prints_finished) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (day, instance) DO UPDATE SET host_version = excluded.host_version, platform = excluded.platform,
           prints_started = prints_started + excluded.prints_started, prints_finished = prints_finished + excluded.prints_finished`,
      ).run(day, ping.instance, ping.host.version, `${ping.host.os}-${ping.host.arch}`, ping.prints.started, ping.prints.finished);
      db.query("DELETE FROM instance_plugins WHERE day = ? AND instance = ?").run(day, ping.instance);
      const plugin = db.query("INSERT OR REPLACE INTO instance_plugins (day, instance, plugin, version) VALUES (?, ?, ?, ?)");
      for (const p of ping.plugins) plugin.run(day, ping.instance, p.id.toLowerCase(), p.version);
      const firmware = db.query("INSERT OR IGNORE INTO instance_firmware (day, instance, family) VALUES (?, ?, ?)");
      for (const f of ping.firmware) firmware.run(day, ping.instance, f);
      const event = db.query("INSERT OR REPLACE INTO plugin_events (day, instance, plugin, event, version) VALUES (?, ?, ?, ?, ?)");
      for (const e of ping.events) event.run(day, ping.instance, e.plugin.toLowerCase(), e.event, e.version);
    })();
  }

  /** Sets or withdraws one instance's like; returns the plugin's count. */
  setLike(like: Like, now: number): number {
    const plugin = like.plugin.toLowerCase();
    if (like.liked) this.db.query("INSERT OR IGNORE INTO likes (instance, plugin, at) VALUES (?, ?, ?)").run(like.instance, plugin, now);
    else this.db.query("DELETE FROM likes WHERE instance = ? AND plugin = ?").run(like.instance, plugin);
    return this.likes(plugin);
  }

  likes(plugin: string): number {
    return (this.db.query("SELECT COUNT(*) AS n FROM likes WHERE plugin = ?").get(plugin.toLowerCase()) as { n: number }).n;
  }

  pluginStats(days: number, now: number): PluginStatsExport {
    const since = dayOf(now - days * DAY_MS);
    const plugins: PluginStatsExport["plugins"] = {};
    const record = (id: string) => (plugins[id] ??= { instances: 0, versions: {}, install_events: 0, uninstall_events: 0 });
    for (const row of this.db.query("SELECT plugin, COUNT(DISTINCT instance) AS n FROM instance_plugins WHERE day > ? GROUP BY plugin").all(since) as { plugin: string; n: number }[]) {
      record(row.plugin).instances = row.n;
    }
    for (const row of this.db
      .query("SELECT plugin, version, COUNT(DISTINCT instance) AS n FROM instance_plugins WHERE day > ? GROUP BY plugin, version")
      .all(since) as { plugin: string; version: string; n: number }[]) {
      record(row.plugin).versions[row.version] = { instances: row.n };
    }
    for (const row of this.db
      .query("SELECT plugin, event, COUNT(DISTINCT instance) AS n FROM plugin_events WHERE day > ? GROUP BY plugin, event")
      .all(since) as { plugin: string; event: "install" | "uninstall"; n: number }[]) {
      record(row.plugin)[row.event === "install" ? "install_events" : "uninstall_events"] = row.n;
    }
    return { _since: new Date(now - days * DAY_MS).toISOString(), _generated: new Date(now).toISOString(), plugins: sortKeys(plugins) };
  }

  instanceStats(days: number, now: number): InstanceStatsExport {
    const since = dayOf(now - days * DAY_MS);
    const tally = (sql: string) => {
      const out: Record<string, { instances: number }> = {};
      for (const row of this.db.query(sql).all(since) as { k: string; n: number }[]) out[row.k] = { instances: row.n };
      return out;
    };
    const totals = this.db
      .query("SELECT COUNT(DISTINCT instance) AS n, COALESCE(SUM(prints_started), 0) AS started, COALESCE(SUM(prints_finished), 0) AS finished FROM instance_days WHERE day > ?")
      .get(since) as { n: number; started: number; finished: number };
    return {
      _since: new Date(now - days * DAY_MS).toISOString(),
      _generated: new Date(now).toISOString(),
      instances: totals.n,
      versions: tally("SELECT host_version AS k, COUNT(DISTINCT instance) AS n FROM instance_days WHERE day > ? GROUP BY host_version"),
      platforms: tally("SELECT platform AS k, COUNT(DISTINCT instance) AS n FROM instance_days WHERE day > ? GROUP BY platform"),
      firmware: tally("SELECT family AS k, COUNT(DISTINCT instance) AS n FROM instance_firmware WHERE day > ? GROUP BY family"),
      prints: { started: totals.started, finished: totals.finished },
    };
  }

  likesExport(now: number): PluginLikesExport {
    const plugins: PluginLikesExport["plugins"] = {};
    for (const row of this.db.query("SELECT plugin, COUNT(*) AS n FROM likes GROUP BY plugin ORDER BY plugin").all() as { plugin: string; n: number }[]) {
      plugins[row.plugin] = { likes: row.n };
    }
    return { _generated: new Date(now).toISOString(), plugins };
  }

  /** Forgets pings older than {@link KEEP_DAYS}. */
  prune(now: number): void {
    const before = dayOf(now - KEEP_DAYS * DAY_MS);
    for (const table of ["instance_days", "instance_plugins", "instance_firmware", "plugin_events"]) this.db.query(`DELETE FROM ${table} WHERE day < ?`).run(before);
  }
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}
