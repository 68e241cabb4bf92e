/**
 * Settings → Backup: make a backup (timelapse videos optional), the stored backups with their
 * size and date to download or delete, and a restore from an uploaded backup after a
 * confirmation. Errors arrive as toasts in words.
 */
import type { BackupInfo } from "../src/backup/service.ts";
import type { BackupManifest } from "../src/backup/manifest.ts";
import { formatBytes, utcMinute } from "./dashboard.ts";
import { html, type Html } from "./html.ts";
import { layout, settingsNav, type PageSession } from "./layout.ts";

export interface BackupPageData {
  backups: BackupInfo[];
  restorePending: boolean;
}

export function backupsPage(data: BackupPageData, session?: PageSession): Html {
  return layout(
    "Backup",
    html`${settingsNav(session, "/settings/backup")}<div class="settings-page backups">
  <section class="card">
    <h2>Backup</h2>
    <p>A backup is one <code>.tar.gz</code> with everything that makes this host what it is: settings, users (with their password hashes), API keys, printers, history and queues, the stored G-code files and folders, installed plugins and your firmware-quirk files. Never logs or caches. <strong>Keep it somewhere safe</strong>: it holds every password hash and API key. <code>layerline backup</code> makes the same from a terminal.</p>
    <form id="backup-create" hx-post="/ui/backups/create" hx-target="#backup-list" hx-swap="outerHTML" hx-disabled-elt="find button">
      <label><input type="checkbox" name="withTimelapses" value="true" data-with-timelapses> Include timelapse videos (they can be large)</label>
      <div class="buttons"><button type="submit" data-create>Create backup</button></div>
    </form>
  </section>
  ${backupList(data.backups)}
  <section class="card">
    <h2>Restore</h2>
    <p>Restoring replaces this host's database, files, plugins and quirk files with the backup's, then Layerline restarts (never while a printer prints). The whole backup is checked first: a damaged, foreign or newer-version backup is refused and nothing changes. What it replaces is kept in <code>&lt;data folder&gt;/before-restore-&lt;time&gt;/</code>. Afterwards, log in with the backup's accounts.</p>
    ${data.restorePending ? html`<p class="notice" data-restore-pending>A restore was checked and is applied when Layerline next starts.</p>` : ""}
    <form id="backup-restore" hx-post="/ui/backups/restore" hx-encoding="multipart/form-data" hx-target="#restore-result" hx-swap="innerHTML" hx-disabled-elt="find button"
      hx-confirm="Restore this backup? It replaces the database (users, settings, printers), files, plugins and quirk files, and restarts Layerline. What is there now is kept aside in the data folder.">
      <input type="file" name="file" accept=".tar.gz,.tgz,application/gzip" required data-restore-file>
      <div class="buttons"><button type="submit" data-restore>Restore…</button></div>
    </form>
    <div id="restore-result" aria-live="polite"></div>
  </section>
</div>`,
    html``,
    session,
  );
}

/** The stored backups, newest first. */
export function backupList(backups: BackupInfo[]): Html {
  const rows = backups.map(
    (b) => html`<tr data-backup="${b.name}">
  <td class="name">${b.name}</td><td>${utcMinute(b.createdAt)} UTC</td><td class="size">${formatBytes(b.bytes)}</td>
  <td class="actions"><a class="button" href="/api/v1/backups/${b.name}" download="${b.name}" data-download>Download</a>
  <button type="button" class="danger" hx-post="/ui/backups/${b.name}/delete" hx-target="#backup-list" hx-swap="outerHTML" hx-confirm="Delete the backup ${b.name}?" data-delete>Delete</button></td>
</tr>`,
  );
  return html`<section class="card" id="backup-list">
  <h2>Stored backups</h2>
  ${backups.length === 0 ? html`<p class="muted" data-empty>No backups yet. They are stored in the data folder's <code>backups/</code>; download one to keep it off this machine.</p>` : html`<table class="backups"><thead><tr><th>Name</th><th>Made</th><th>Size</th><th></th></tr></thead><tbody>${rows}</tbody></table>`}
</section>`;
}

/** What the restore form shows once the backup was accepted. */
export function restoreAccepted(manifest: BackupManifest, restarting: boolean): Html {
  return html`<p class="notice" data-restore-accepted>The backup from ${manifest.createdAt.slice(0, 16).replace("T", " ")} UTC (Layerline ${manifest.layerline}) was checked. ${
    restarting ? html`Layerline is restarting with it; <a href="/">reload</a> in a few seconds and log in with the backup's accounts.` : "It is restored when Layerline next starts."
  }</p>`;
}
