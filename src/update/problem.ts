/**
 * Why an update was refused or failed, in words a user can act on (design principle 6).
 * The code is stable (API clients and tests match on it); message and hint are for people.
 */
export type UpdateErrorCode =
  | "no_source" // no update URL configured
  | "fetch_failed" // the release server did not answer usefully
  | "bad_manifest" // the manifest is not what a release manifest must be
  | "bad_signature" // the signature does not verify: tampered, or signed by another key
  | "wrong_channel" // a manifest for another channel
  | "no_update" // nothing newer to install
  | "too_old" // this version is older than the release's minimum upgrade-from version
  | "unsupported_platform" // the release cannot run on this system
  | "no_target" // the release has no binary for this architecture
  | "size_mismatch" // the download's size differs from the manifest
  | "hash_mismatch" // the download's sha256 differs from the manifest
  | "does_not_run" // the downloaded binary did not run here (`--version` check)
  | "not_installable" // this process cannot replace its binary (running from source, folder not writable)
  | "in_progress" // another update is under way
  | "cancelled" // the user cancelled it
  | "io"; // the file system refused

export class UpdateError extends Error {
  constructor(
    readonly code: UpdateErrorCode,
    message: string,
    readonly hint = "",
  ) {
    super(message);
  }

  toJSON() {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** The short reason of a caught error for a sentence: its errno code, or its message without a final period. */
export function why(e: unknown): string {
  const error = e as NodeJS.ErrnoException;
  return error?.code && /^E[A-Z]+$/.test(error.code) ? error.code : String(error?.message ?? e).replace(/\.+$/, "");
}
