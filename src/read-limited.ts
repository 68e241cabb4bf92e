/**
 * Reading a response body into memory with a size limit, for every small download the host makes
 * (a release manifest, the plugin index, a plugin archive, a camera snapshot): a hostile or broken
 * server must not fill the memory.
 */

/** A body larger than its limit (a small file such as a manifest or an index must not fill the memory). */
export class TooLargeError extends Error {
  override name = "TooLargeError";
}

/** The body of `response` into memory, refused (TooLargeError) as soon as it exceeds `maxBytes`. */
export async function readLimited(response: Response, maxBytes: number): Promise<Uint8Array> {
  const body = response.body;
  if (!body) return new Uint8Array(0);
  const announced = Number(response.headers.get("content-length"));
  if (Number.isFinite(announced) && announced > maxBytes) {
    await body.cancel();
    throw new TooLargeError(`it is ${announced} bytes; the limit is ${maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    size += next.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new TooLargeError(`it is larger than the limit of ${maxBytes} bytes`);
    }
    chunks.push(next.value);
  }
  return Buffer.concat(chunks);
}
