/** A backup or restore that cannot go on, in words, with the HTTP status that fits it. */
export type BackupErrorCode =
  | "invalid_archive"
  | "invalid_manifest"
  | "newer_schema"
  | "invalid_database"
  | "unexpected_entry"
  | "no_database"
  | "no_space"
  | "read_only"
  | "printing"
  | "busy"
  | "not_found"
  | "too_large";

const STATUS: Record<BackupErrorCode, number> = {
  invalid_archive: 400,
  invalid_manifest: 400,
  newer_schema: 409,
  invalid_database: 400,
  unexpected_entry: 400,
  no_database: 409,
  no_space: 507,
  read_only: 507,
  printing: 409,
  busy: 409,
  not_found: 404,
  too_large: 413,
};

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    readonly hint = "",
  ) {
    super(message);
    this.name = "BackupError";
  }

  get status(): number {
    return STATUS[this.code];
  }
}
