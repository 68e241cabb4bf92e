/**
 * Receiving an upload from an HTTP request: the multipart body is read as a stream and the file
 * part goes straight to a temporary file, so memory stays flat whatever the size. The target is
 * checked as soon as the file part's name is known (a bad name, or a file being printed, is
 * refused before its bytes are stored, unless a field that may change the target is still to come);
 * the file is renamed into place only once complete.
 */
import { diskError, FileError, type FileStorage, type StoredFile, type TempUpload } from "./storage.ts";
import { boundaryOf, chunksOf, MultipartError, MultipartNameError, readMultipart } from "./multipart.ts";

export interface UploadOptions {
  /** Form field with the file. */
  file?: string;
  /** Form field naming the target folder. */
  folder?: string;
  /** Form field that overrides the file's name. */
  filename?: string;
  /**
   * Whether the form allows replacing an existing file, from its text fields (asked when the file
   * part begins, and again with every field at the end). Default: unless `overwrite` is false.
   */
  overwrite?: (fields: Record<string, string>) => boolean;
  /** Checks the text fields once the whole form has arrived, before the file is put in place; throws to refuse it. */
  check?: (fields: Record<string, string>) => void;
}

export interface ReceivedUpload {
  /** The text fields of the form. */
  fields: Record<string, string>;
  /** The stored file, or null when the form had no file part. */
  file: StoredFile | null;
}

/** The stored path for an uploaded name in an optional folder; only the name's last component is kept. */
export function uploadPath(folder: string | undefined, name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  const dir = folder?.trim().replace(/^\/+|\/+$/g, "");
  return dir ? `${dir}/${base}` : base;
}

const isFalse = (v: string | undefined) => v !== undefined && /^(false|0|no)$/i.test(v.trim());

/**
 * Reads a `multipart/form-data` request into the files folder. By default the form field
 * `overwrite` set to false refuses to replace an existing file (see `UploadOptions.overwrite`).
 */
export async function receiveUpload(request: Request, storage: FileStorage, options: UploadOptions = {}): Promise<ReceivedUpload> {
  const fileField = options.file ?? "file";
  const folderField = options.folder ?? "path";
  const filenameField = options.filename ?? "filename";
  const overwrite = options.overwrite ?? ((fields: Record<string, string>) => !isFalse(fields.overwrite));
  const boundary = boundaryOf(request.headers.get("content-type"));
  if (!boundary) throw new FileError("upload_incomplete", "The upload is not multipart/form-data.", `Send the file as a form field "${fileField}" (curl -F ${fileField}=@part.gcode).`);
  if (!request.body) throw new FileError("upload_incomplete", "The upload has no body.", `Send the file as a form field "${fileField}".`);
  storage.checkSpace(Number(request.headers.get("content-length") ?? NaN));

  const fields: Record<string, string> = {};
  let temp: TempUpload | null = null;
  let uploadedName = "";
  const target = () => uploadPath(fields[folderField], fields[filenameField] || uploadedName);
  try {
    await readMultipart(chunksOf(request.body), boundary, {
      part: async (part) => {
        if (part.name !== fileField || part.filename === null) return null;
        if (temp) throw new FileError("upload_incomplete", "The form has more than one file.", "Upload one file per request.");
        uploadedName = part.filename;
        try {
          storage.checkTarget(target(), overwrite(fields));
        } catch (e) {
          // Fields sent after the file (curl -F file=@x -F path=dir) may still change the target:
          // then the check at the end decides, and a refused file is discarded there.
          const later = [folderField, filenameField, "overwrite"].some((f) => !(f in fields));
          if (!(e instanceof FileError) || !later) throw e;
        }
        temp = await storage.beginUpload();
        return temp;
      },
      field: (name, value) => {
        fields[name] = value;
      },
    });
  } catch (e) {
    await (temp as TempUpload | null)?.discard();
    throw uploadError(e);
  }
  const received = temp as TempUpload | null;
  try {
    options.check?.(fields);
  } catch (e) {
    await received?.discard();
    throw e;
  }
  if (!received) return { fields, file: null };
  return { fields, file: await storage.commitUpload(received, target(), overwrite(fields)) };
}

/** What went wrong while receiving, as the error a person reads. */
function uploadError(e: unknown): unknown {
  if (e instanceof FileError) return e;
  const full = diskError(e, "the upload was not stored (any previous file of that name is unchanged)");
  if (full !== e) return full;
  if (e instanceof MultipartNameError) {
    return new FileError("invalid_path", `The upload's ${e.message}.`, "Percent-encode the name as UTF-8 (filename*=UTF-8''caf%C3%A9.gcode), or send it as a plain filename=\"…\".");
  }
  if (e instanceof MultipartError) return new FileError("upload_incomplete", `The upload is incomplete: ${e.message}.`, "Upload the file again.");
  // The client went away mid-body: the stream read fails (an AbortError or a connection error).
  if (e instanceof Error && (e.name === "AbortError" || /closed|abort|reset/i.test(e.message))) {
    return new FileError("upload_incomplete", "The upload was interrupted before the end of the file; nothing was stored.", "Upload the file again.");
  }
  return e;
}
