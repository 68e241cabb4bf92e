/**
 * The virtual printer's SD card: mounted and empty. Enough for the host's connect sequence
 * (M21, M20, M27 and its autoreport) to get Marlin's literal replies (protocol.md §4.3).
 */

/** An empty, mounted card. Example: `new EmptySdCard().list()` → the two list markers. */
export class EmptySdCard {
  /** M21 reply. */
  mount(): string[] {
    return ["echo:SD card ok"];
  }

  /** M20 reply (any flags: there is nothing to list). */
  list(): string[] {
    return ["Begin file list", "End file list"];
  }

  /** M23 reply: Marlin announces the file, then fails to open it. */
  select(name: string): string[] {
    return [`echo:Now fresh file: ${name}`, `open failed, File: ${name}.`];
  }

  /** M27 reply and autoreport line. */
  status(): string {
    return "Not SD printing";
  }

  /** M27 C reply. */
  currentFile(): string {
    return "Current file: (no file)";
  }
}
