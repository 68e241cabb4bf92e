/**
 * GETting a small file (a plugin archive, the repository index) into memory with a size limit
 * and a timeout, so a hostile or broken server can neither exhaust memory nor hang a request.
 */

/** The body of `url`, or an Error that says what went wrong. */
export async function fetchBytes(url: string, options: { maxBytes: number; timeoutMs: number }): Promise<Uint8Array> {
  const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: "follow" });
  if (!res.ok || !res.body) throw new Error(`the server answered ${res.status} ${res.statusText}`.trim());
  const announced = Number(res.headers.get("content-length"));
  if (Number.isFinite(announced) && announced > options.maxBytes) {
    await res.body.cancel();
    throw new Error(`it is ${announced} bytes; the limit is ${options.maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    size += next.value.byteLength;
    if (size > options.maxBytes) {
      await reader.cancel();
      throw new Error(`it is larger than the limit of ${options.maxBytes} bytes`);
    }
    chunks.push(next.value);
  }
  return Buffer.concat(chunks);
}
