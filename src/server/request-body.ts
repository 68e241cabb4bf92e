/**
 * Request bodies the routes take whole (JSON, forms, text): read with a size cap and, for JSON,
 * a nesting cap, before anything parses or validates them (by the guard for the routes, by the
 * plugin manager for plugins' routes). Elysia reads any body whole and, when
 * validation fails, copies it into the error as indented JSON: a 20 MB body cost more than a
 * gigabyte and a deeply nested one overflowed the stack (a 500). Streamed bodies (uploads) are
 * not read here.
 */
import { parseQuery } from "elysia/parse-query";
import { ApiError } from "./errors.ts";

/** Far above any settings, script or command list a route takes (1,000 commands of 256 characters). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Far deeper than any body a route takes (plugin settings nest a few levels). */
export const MAX_JSON_DEPTH = 32;

const tooLarge = () =>
  new ApiError(413, "body_too_large", `The request body is larger than ${MAX_BODY_BYTES / 1024} KB.`, "Send files as uploads (multipart/form-data or application/octet-stream); other requests are small.");

/**
 * The parsed body of a JSON, form or text request (null for a JSON body of only whitespace), or
 * undefined for no body and other content types (left to Elysia). Throws a 413 past
 * MAX_BODY_BYTES and a 400 for JSON that is malformed or nested deeper than MAX_JSON_DEPTH.
 */
export async function readBody(request: Request): Promise<unknown> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const json = type === "application/json" || type.endsWith("+json");
  const form = type === "application/x-www-form-urlencoded";
  // No body at all: left to Elysia as before (an optional body is then undefined, not null).
  if (request.body === null || request.headers.get("content-length") === "0") return undefined;
  if (!json && !form && type !== "text/plain") {
    if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) throw tooLarge();
    return undefined;
  }
  const text = await readCapped(request);
  if (form) return parseQuery(text);
  if (!json) return text;
  return text.trim() === "" ? null : parseJson(text);
}

/** A JSON body's text parsed, refused (400) when malformed or nested deeper than MAX_JSON_DEPTH. */
export function parseJson(text: string): unknown {
  if (nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new ApiError(400, "invalid_body", `The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep.`, "No endpoint takes anything that deep; check what the client sends.");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, "invalid_body", `The request body is not valid JSON (${(e as Error).message}).`, "Send JSON with Content-Type: application/json.");
  }
}

/** The body as text, refused (413) as soon as it passes the cap (a declared length is believed first). */
export async function readCapped(request: Request): Promise<string> {
  if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    size += r.value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(r.value);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}

/** How deep the brackets of a JSON text nest (outside strings); it stops counting past the cap. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > deepest && (deepest = depth) > MAX_JSON_DEPTH) return deepest;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return deepest;
}
