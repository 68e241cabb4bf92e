/**
 * The plugin area as the rest of the host sees it: the manager (what is loaded), the installer
 * (archives in and out), the repository (the index and its browser), wired together.
 */
import { PLUGIN_API_VERSION } from "./api.ts";
import { InstallError, PluginInstaller, type InstallResult } from "./install.ts";
import { PluginManager, type ManagerOptions } from "./manager.ts";
import { RepositoryCatalog, type HostInfo } from "./repository/catalog.ts";
import { PluginRepository } from "./repository/source.ts";
import type { SettingsStore } from "../db/settings.ts";

const OS_NAMES: Partial<Record<NodeJS.Platform, string>> = { linux: "linux", darwin: "macos", win32: "windows", freebsd: "freebsd" };

export interface ServiceOptions extends ManagerOptions {
  settings: SettingsStore;
  /** Refresh the repository index on its schedule (default true). */
  repositorySchedule?: boolean;
}

export class PluginService {
  readonly manager: PluginManager;
  readonly installer: PluginInstaller;
  readonly repository: PluginRepository;
  private cached: { key: string; catalog: RepositoryCatalog } | undefined;

  constructor(private readonly options: ServiceOptions) {
    this.manager = new PluginManager(options);
    this.installer = new PluginInstaller(this.manager);
    this.repository = new PluginRepository({ dataDir: options.dataDir, settings: options.settings, log: options.log });
  }

  async start(): Promise<void> {
    await this.manager.start();
    if (this.options.repositorySchedule !== false) this.repository.start();
  }

  async stop(): Promise<void> {
    this.repository.close();
    await this.manager.stop();
  }

  /** Every plugin with a version, as usage statistics report them. */
  installed(): { id: string; version: string }[] {
    return this.manager.list().flatMap((p) => (p.version ? [{ id: p.id, version: p.version }] : []));
  }

  /** This host as the repository's compatibility rules see it. */
  hostInfo(): HostInfo {
    return {
      apiVersion: PLUGIN_API_VERSION,
      os: OS_NAMES[process.platform] ?? process.platform,
      installed: new Map(this.manager.list().map((p) => [p.id, p.version])),
    };
  }

  /** The browser's catalog of the current index (rebuilt when the index or the installed plugins change). */
  catalog(now = Date.now()): RepositoryCatalog {
    const host = this.hostInfo();
    const key = `${this.repository.version}|${[...host.installed].map(([id, v]) => `${id}@${v}`).join(",")}|${Math.floor(now / 3_600_000)}`;
    if (this.cached?.key !== key) this.cached = { key, catalog: new RepositoryCatalog(this.repository.list(), host, now) };
    return this.cached.catalog;
  }

  /** One-click install from the repository. */
  installFromRepository(id: string): Promise<InstallResult> {
    return this.installer.installFromIndex(this.entry(id), this.hostInfo());
  }

  /** Updates an installed plugin to the repository's newer release. */
  update(id: string): Promise<InstallResult> {
    return this.installer.update(id, this.entry(id), this.hostInfo());
  }

  private entry(id: string) {
    const entry = this.repository.list().find((e) => e.id === id);
    if (!entry) {
      throw new InstallError(404, "not_in_repository", `The plugin repository has no plugin "${id}".`, this.repository.url() ? "Refresh the repository, or check the name." : "No plugin repository is configured.");
    }
    return entry;
  }
}
