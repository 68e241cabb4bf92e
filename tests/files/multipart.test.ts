import { describe, expect, test } from "bun:test";
import { boundaryOf, MultipartError, readMultipart } from "../../src/files/multipart.ts";

const BOUNDARY = "----layerline-test-boundary";
const enc = new TextEncoder();

function body(parts: { name: string; filename?: string; data: string | Uint8Array }[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ""}`;
    chunks.push(enc.encode(`--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${p.filename !== undefined ? "Content-Type: application/octet-stream\r\n" : ""}\r\n`));
    chunks.push(typeof p.data === "string" ? enc.encode(p.data) : p.data);
    chunks.push(enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

async function* split(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function read(bytes: Uint8Array, size: number) {
  const fields: Record<string, string> = {};
  const files: Record<string, { filename: string; data: Uint8Array[] }> = {};
  await readMultipart(split(bytes, size), BOUNDARY, {
    part: (h) => {
      if (h.filename === null) return null;
      const file = { filename: h.filename, data: [] as Uint8Array[] };
      files[h.name] = file;
      return { write: async (chunk) => void file.data.push(chunk.slice()) };
    },
    field: (name, value) => (fields[name] = value),
  });
  return { fields, files: Object.fromEntries(Object.entries(files).map(([k, f]) => [k, { filename: f.filename, data: Buffer.concat(f.data) }])) };
}

describe("streaming multipart reader", () => {
  test("the boundary comes from the content type", () => {
    expect(boundaryOf(`multipart/form-data; boundary=${BOUNDARY}`)).toBe(BOUNDARY);
    expect(boundaryOf('multipart/form-data; boundary="quoted b"')).toBe("quoted b");
    expect(boundaryOf("application/json")).toBeNull();
  });

  test("file names: a browser's %22, a backslash escape, RFC 5987; broken percent-encoding is a clear error", async () => {
    const named = async (disposition: string) => {
      const bytes = enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; ${disposition}\r\n\r\nG1\r\n--${BOUNDARY}--\r\n`);
      return (await read(bytes, 64)).files.file!.filename;
    };
    expect(await named('filename="my %22best%22 part.gcode"')).toBe('my "best" part.gcode');
    expect(await named('filename="a\\"b.gcode"')).toBe('a"b.gcode');
    // Only " and \\ are escaped; other backslashes are a Windows path's (its last part is the name).
    expect(await named('filename="C:\\parts\\boat.gcode"')).toBe("C:\\parts\\boat.gcode");
    expect(await named('filename="a\\\\b.gcode"')).toBe("a\\b.gcode");
    expect(await named("filename*=UTF-8''caf%C3%A9.gcode")).toBe("café.gcode");
    const broken = await named("filename*=UTF-8''%E0%A4%A.gcode").catch((e) => e);
    expect(broken).toBeInstanceOf(MultipartError);
    expect(broken.message).toContain("percent-encoded");
  });

  test("fields before and after the file; bytes that look like boundaries; every chunk size", async () => {
    // File content with CRLFs, dashes and a near-boundary, binary bytes.
    const content = Buffer.concat([enc.encode(`G1 X1\r\n--${BOUNDARY.slice(0, -1)}\r\n--\r\n`), new Uint8Array([0, 255, 13, 10, 45, 45])]);
    const bytes = body([
      { name: "path", data: "folder/sub" },
      { name: "file", filename: "part.gcode", data: content },
      { name: "select", data: "true" },
    ]);
    for (const size of [1, 2, 3, 5, 17, 64, 1000, bytes.length]) {
      const { fields, files } = await read(bytes, size);
      expect(fields).toEqual({ path: "folder/sub", select: "true" });
      expect(files.file!.filename).toBe("part.gcode");
      expect(files.file!.data).toEqual(Buffer.from(content));
    }
  });

  test("a body that ends early is an error (an aborted upload)", async () => {
    const bytes = body([{ name: "file", filename: "a.gcode", data: "G1 X1\n".repeat(1000) }]);
    await expect(read(bytes.subarray(0, 3000), 512)).rejects.toBeInstanceOf(MultipartError);
    await expect(read(enc.encode("no multipart here"), 4)).rejects.toBeInstanceOf(MultipartError);
  });
});
