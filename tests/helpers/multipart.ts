/**
 * Multipart bodies written byte for byte the way a given client writes them (part order, part
 * headers, the closing delimiter with or without CRLF), where FormData would normalise them.
 */
export interface Part {
  name: string;
  value: string | Uint8Array;
  filename?: string;
  /** The part's Content-Type header, if the client sends one. */
  type?: string;
}

export function multipart(parts: Part[], options: { boundary?: string; finalCrlf?: boolean } = {}): { body: Blob; contentType: string } {
  const boundary = options.boundary ?? `Boundary-${crypto.randomUUID()}`;
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ""}`;
    chunks.push(enc.encode(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ""}\r\n`));
    chunks.push(typeof p.value === "string" ? enc.encode(p.value) : p.value);
    chunks.push(enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${boundary}--${options.finalCrlf === false ? "" : "\r\n"}`));
  return { body: new Blob(chunks as BlobPart[]), contentType: `multipart/form-data; boundary=${boundary}` };
}
