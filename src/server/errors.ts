/**
 * Errors as people read them (design principle 6): every API error is JSON
 * `{ error: { code, message, hint } }` with a 4xx status; bad input never becomes a 500.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { notFoundPage, problemPage } from "../../views/not-found.ts";
import { AccountError } from "../accounts/accounts.ts";
import { FileError } from "../files/storage.ts";
import type { Problem } from "../printers/status.ts";
import type { PageSession } from "../../views/layout.ts";
import { Refusal } from "./auth/refusal.ts";
import { routeKind } from "./route-kind.ts";
import { pathPrefix, prefixResponse } from "./path-prefix.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint = "",
  ) {
    super(message);
  }

  /** A controller result's problem, with the status that fits its code. */
  static fromProblem(problem: Problem): ApiError {
    return new ApiError(STATUS_BY_CODE[problem.code] ?? 409, problem.code, problem.message, problem.hint);
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  file_not_found: 404,
  not_found: 404,
  object_not_found: 404,
  no_interrupted_job: 404,
  invalid_path: 400,
  not_printable: 400,
  invalid_request: 400,
  not_supported: 409,
  /** A call the printer's thread had when the watchdog restarted it: try again. */
  printer_thread_restarted: 503,
  internal: 500,
};

const FILE_STATUS: Record<FileError["code"], number> = {
  invalid_path: 400,
  not_printable: 400,
  not_found: 404,
  in_use: 409,
  exists: 409,
  not_empty: 409,
  upload_incomplete: 400,
  no_space: 507,
  read_only: 507,
};

export const errorBody = (code: string, message: string, hint = "") => ({ error: { code, message, hint } });

/** Reads an (optional) body through a schema; the first problem becomes a 400 "field: what is wrong". */
export function parseBody<S extends v.GenericSchema>(schema: S, body: unknown, hint = "See /api/v1 for the expected fields."): v.InferOutput<S> {
  const parsed = v.safeParse(schema, body ?? {});
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = v.getDotPath(issue);
    throw new ApiError(400, "invalid_request", path ? `${path}: ${issue.message}` : issue.message, hint);
  }
  return parsed.output;
}

/** Turns a validation failure into "field: what is wrong". */
function describeValidation(error: unknown): string {
  const issue = (error as { valueError?: v.BaseIssue<unknown> }).valueError;
  if (issue && typeof issue === "object" && "message" in issue) {
    const path = v.getDotPath(issue);
    return path ? `${path}: ${issue.message}` : issue.message;
  }
  return "The request body is not what this endpoint expects.";
}

/** What the generic 400 and 404 answers point at: a service's own documentation. */
export interface ErrorHints {
  /** For a body that fails an endpoint's schema. */
  invalid: string;
  /** For an address nothing answers at. */
  notFound: string;
}

const HOST_HINTS: ErrorHints = { invalid: "See /api/v1/docs for the expected fields.", notFound: "See /api/v1/docs for the endpoints." };

/**
 * An error handler that maps every failure to the JSON error shape (OctoPrint's on its paths); a
 * browser asking for a page that does not exist gets a page saying so. `hints` name where the
 * service documents itself (the host serves /api/v1/docs; the registry service does not).
 */
export function errorHandlerWith(hints: ErrorHints, name = "errors", session?: (request: Request) => PageSession | undefined) {
  return new Elysia({ name }).onError({ as: "global" }, (context) => {
    if (context.error instanceof Refusal) return context.error.response;
    const path = new URL(context.request.url).pathname;
    // No route: the prefix plugin's response hook does not run for it.
    if (context.code === "NOT_FOUND" && wantsPage(context.request, path)) return prefixResponse(pathPrefix(context.request), notFoundResponse(`There is nothing at ${path}.`, session?.(context.request)));
    const body = nativeError(context, hints);
    // OctoPrint clients read `error` as a sentence (octoprint-compat.md §2.1).
    if (routeKind(path) === "octoprint") return { error: body.error.message };
    return body;
  });
}

/** The host's error handler (`session`: who is logged in, for the 404 page's top bar). */
export const hostErrorHandler = (session?: (request: Request) => PageSession | undefined) => errorHandlerWith(HOST_HINTS, "errors", session);

/** A browser loading a page (not the APIs, not htmx or scripts, which do not ask for HTML). */
function wantsPage(request: Request, path: string): boolean {
  return (request.method === "GET" || request.method === "HEAD") && routeKind(path) === "html" && (request.headers.get("accept") ?? "").includes("text/html");
}

/**
 * A page's answer to an error its handler raised (an ApiError or FileError from a bad query): the
 * error's status, message and hint as a page, not JSON, since a browser asked for it.
 */
export function problemPageResponse(error: unknown, session?: PageSession): Response | undefined {
  const status = error instanceof ApiError ? error.status : error instanceof FileError ? FILE_STATUS[error.code] : undefined;
  if (status === undefined) return undefined;
  const { message, hint } = error as ApiError | FileError;
  const title = status === 404 ? "Not found" : "Bad request";
  return new Response(problemPage(title, message, hint, session).value, { status, headers: { "content-type": "text/html; charset=utf-8" } });
}

/** The 404 page: `message` says what is missing; `session` puts the user's menu in it. */
export function notFoundResponse(message: string, session?: PageSession): Response {
  return new Response(notFoundPage(message, session).value, { status: 404, headers: { "content-type": "text/html; charset=utf-8" } });
}

function nativeError({ code, error: raised, set }: { code: unknown; error: unknown; set: { status?: number | string } }, hints: ErrorHints) {
  // What a parse hook throws (a body too large or too deep) reaches here wrapped by Elysia.
  const cause = code === "PARSE" ? (raised as Error).cause : undefined;
  const error = cause instanceof ApiError ? cause : raised;
  if (error instanceof ApiError) {
    set.status = error.status;
    return errorBody(error.code, error.message, error.hint);
  }
  if (error instanceof AccountError) {
    set.status = error.status;
    return errorBody(error.code, error.message, error.hint);
  }
  if (error instanceof FileError) {
    set.status = FILE_STATUS[error.code];
    return errorBody(error.code, error.message, error.hint);
  }
  switch (code) {
    case "VALIDATION":
      set.status = 400;
      return errorBody("invalid_request", describeValidation(error), hints.invalid);
    case "PARSE":
      set.status = 400;
      return errorBody("invalid_body", "The request body could not be parsed (is it valid JSON?).", "Send JSON with Content-Type: application/json.");
    case "NOT_FOUND":
      set.status = 404;
      return errorBody("not_found", "There is nothing at this address.", hints.notFound);
    case "INVALID_COOKIE_SIGNATURE":
      set.status = 400;
      return errorBody("invalid_cookie", "A cookie was tampered with.", "Log in again.");
    default: {
      const status = typeof (error as { status?: unknown }).status === "number" ? (error as { status: number }).status : 500;
      set.status = status;
      if (status >= 500) console.error("internal error:", error);
      return status >= 500
        ? errorBody("internal", "Something went wrong inside Layerline.", "This is a bug; the server log has the details.")
        : errorBody("bad_request", (error as Error).message ?? "Bad request.");
    }
  }
}
