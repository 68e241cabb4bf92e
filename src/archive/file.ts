/**
 * Reading a large .tar.gz or .tar from disk without holding it in memory (a backup of a
 * multi-gigabyte files folder): gzip is unpacked as a stream into a scratch .tar, bounded so a
 * gzip bomb fills at most the bound, and the untrusting reader (archive.ts) then reads headers
 * and files from that file on demand. The same checks apply as to archives in memory.
 */
import { closeSync, createReadStream, createWriteStream, fstatSync, openSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { ArchiveError, openTarSource, type Archive, type ArchiveLimits } from "./archive.ts";

export interface FileArchive extends Archive {
  /** Closes the file and removes the scratch .tar. */
  close(): void;
}

/** Bytes of tar headers and padding allowed on top of the files' own sizes. */
const overhead = (limits: ArchiveLimits) => 1024 * 1024 + limits.maxEntries * 1536;

/**
 * Opens the archive in `file` (.tar.gz or .tar); a gzipped one is unpacked into `scratchDir`
 * first. Throws an {@link ArchiveError} for a damaged, truncated or too large archive (and
 * leaves no scratch file behind).
 */
export async function openArchiveFile(file: string, limits: ArchiveLimits, scratchDir: string): Promise<FileArchive> {
  let tarFile = file;
  let scratch: string | null = null;
  const head = new Uint8Array(2);
  const probe = openSync(file, "r");
  try {
    readSync(probe, head, 0, 2, 0);
  } finally {
    closeSync(probe);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    scratch = join(scratchDir, `unpacking-${crypto.randomUUID().slice(0, 8)}.tar`);
    try {
      await gunzipBounded(file, scratch, limits.maxTotalBytes + overhead(limits));
    } catch (e) {
      rmSync(scratch, { force: true });
      if (e instanceof ArchiveError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      // A full disk is the caller's to explain; everything else means the gzip data is bad.
      if (code === "ENOSPC" || code === "EDQUOT" || code === "EROFS" || code === "EACCES") throw e;
      throw new ArchiveError("corrupt", `The gzip data could not be read: ${(e as Error).message}`);
    }
    tarFile = scratch;
  }
  const fd = openSync(tarFile, "r");
  const close = () => {
    closeSync(fd);
    if (scratch) rmSync(scratch, { force: true });
  };
  try {
    const length = fstatSync(fd).size;
    const archive = openTarSource(
      {
        length,
        slice(start, end) {
          const out = new Uint8Array(end - start);
          let done = 0;
          while (done < out.length) {
            const n = readSync(fd, out, done, out.length - done, start + done);
            if (n === 0) throw new ArchiveError("corrupt", "The archive ended early.");
            done += n;
          }
          return out;
        },
      },
      limits,
    );
    return Object.assign(archive, { close });
  } catch (e) {
    close();
    throw e;
  }
}

async function gunzipBounded(from: string, to: string, max: number): Promise<void> {
  let total = 0;
  const bound = new Transform({
    transform(chunk: Buffer, _enc, done) {
      total += chunk.length;
      if (total > max) done(new ArchiveError("too_large", `The archive unpacks to more than ${max} bytes.`));
      else done(null, chunk);
    },
  });
  await pipeline(createReadStream(from), createGunzip(), bound, createWriteStream(to, { mode: 0o600 }));
}
