/**
 * Native API: what this host is, and the index of endpoints.
 */
import { Elysia } from "elysia";
import type { AppContext } from "../context.ts";

/** The endpoints of the native API, for people and scripts discovering it. */
export const ENDPOINTS: [method: string, path: string, what: string][] = [
  ["GET", "/api/v1/version", "name and version of this host"],
  ["GET", "/api/v1/printers", "all printers with their live status"],
  ["POST", "/api/v1/printers", "add a printer {name, transport: virtual|serial, port?, baud?, autoconnect?}"],
  ["GET", "/api/v1/printers/:id", "one printer: state, temperatures, position, job, progress"],
  ["DELETE", "/api/v1/printers/:id", "remove a printer"],
  ["POST", "/api/v1/printers/:id/connect", "open the link"],
  ["POST", "/api/v1/printers/:id/disconnect", "close the link"],
  ["POST", "/api/v1/printers/:id/commands", "send G-code {commands: string[]}"],
  ["POST", "/api/v1/printers/:id/emergency-stop", "M112, bypassing every queue"],
  ["GET", "/api/v1/printers/:id/terminal", "the latest lines sent and received"],
  ["POST", "/api/v1/printers/:id/job", "print a file {file}"],
  ["POST", "/api/v1/printers/:id/job/pause", "pause the print"],
  ["POST", "/api/v1/printers/:id/job/resume", "resume the print"],
  ["POST", "/api/v1/printers/:id/job/cancel", "cancel the print"],
  ["PATCH", "/api/v1/printers/:id", "change settings {name?, port?, baud?, window? (lines in flight, 1–32)}"],
  ["GET", "/api/v1/printers/:id/link", "link statistics: lines/s, resend ratio, ack latency p50/p99, window"],
  ["GET", "/api/v1/printers/:id/trace", "the flight recorder as JSONL (?source=log: the rotating log on disk)"],
  ["POST", "/api/v1/printers/:id/prompt", "answer the printer's dialog {choice: button index}"],
  ["GET", "/api/v1/printers/:id/sd", "SD card: available, files, upload progress"],
  ["POST", "/api/v1/printers/:id/sd/refresh", "mount and list the SD card"],
  ["POST", "/api/v1/printers/:id/sd/print", "print a file from the SD card {name}"],
  ["POST", "/api/v1/printers/:id/sd/upload", "copy a stored file to the SD card {file, name?}"],
  ["DELETE", "/api/v1/printers/:id/sd/*", "delete a file from the SD card"],
  ["GET", "/api/v1/files", "all files"],
  ["POST", "/api/v1/files", "upload (multipart field file, optional path)"],
  ["GET", "/api/v1/files/*", "one file's metadata"],
  ["DELETE", "/api/v1/files/*", "delete a file"],
  ["GET", "/api/v1/events", "Server-Sent Events: status, log, event, files (?printer=id)"],
];

export function versionApi(ctx: AppContext) {
  return new Elysia()
    .get("/api/v1", () => ({
      name: "Layerline",
      version: ctx.version,
      endpoints: ENDPOINTS.map(([method, path, description]) => ({ method, path, description })),
    }))
    .get("/api/v1/version", () => ({ name: "Layerline", version: ctx.version, api: "v1" }));
}
