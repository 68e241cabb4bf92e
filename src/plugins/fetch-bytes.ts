/**
 * GETting a small file (a plugin archive, the repository index) into memory with a size limit
 * and a timeout, so a hostile or broken server can neither exhaust memory nor hang a request.
 */
import { readLimited } from "../read-limited.ts";

/** The body of `url`, or an Error that says what went wrong. */
export async function fetchBytes(url: string, options: { maxBytes: number; timeoutMs: number }): Promise<Uint8Array> {
  const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: "follow" });
  if (!res.ok || !res.body) throw new Error(`the server answered ${res.status} ${res.statusText}`.trim());
  return readLimited(res, options.maxBytes);
}
