/** The wildcard part of a route's URL (Elysia leaves it percent-encoded). */
import { ApiError } from "./errors.ts";

/** Decoded, or a 400 that says so when its percent-encoding is broken (`%E0%A4%A`). */
export function pathParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, "invalid_path", `The path "${raw}" is not valid URL encoding.`, "Encode each path segment with encodeURIComponent.");
  }
}
