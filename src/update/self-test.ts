/**
 * The self-test a new version runs right after an update restart, before the update counts as
 * done: its database migrated and sound, its HTTP server answering, and every printer that was
 * connected before the restart connected again. Any failure is a sentence naming what failed.
 */
import type { Database } from "bun:sqlite";
import { schemaVersion } from "../db/database.ts";
import { migrations } from "../db/migrations/index.ts";
import type { PrinterStatus } from "../printers/status.ts";

export interface SelfTestSubject {
  db: Database;
  /** Base URL of this host's HTTP server. */
  url: string;
  version: string;
  /** The live status of a printer, or undefined when there is no such printer. */
  printerStatus(id: string): Pick<PrinterStatus, "state" | "problem"> | undefined;
}

export interface SelfTestOptions {
  printers: { id: string; name: string }[];
  /** When the whole test must have passed (ms since the epoch). */
  deadline: number;
  onStage?: (stage: string) => void;
}

/** Resolves to null when every check passed, or to the reason the first one failed. */
export async function runSelfTest(subject: SelfTestSubject, options: SelfTestOptions): Promise<string | null> {
  const stage = options.onStage ?? (() => {});

  stage("checking the database");
  const schema = schemaVersion(subject.db);
  if (schema !== migrations.length) return `the database is at schema ${schema}, but this version needs ${migrations.length}`;
  const check = subject.db.query("PRAGMA quick_check").all() as { quick_check: string }[];
  if (check.length !== 1 || check[0]!.quick_check !== "ok") return `the database check failed: ${check.map((r) => r.quick_check).join("; ").slice(0, 300)}`;

  stage("checking that the server answers");
  const serverProblem = await checkServer(subject);
  if (serverProblem) return serverProblem;

  stage("waiting for the printers to reconnect");
  for (const printer of options.printers) {
    for (;;) {
      const status = subject.printerStatus(printer.id);
      if (!status) return `the printer “${printer.name}” no longer exists`;
      if (status.state === "operational" || status.state === "printing" || status.state === "paused") break;
      if (Date.now() >= options.deadline) {
        const why = status.problem ? `: ${status.problem.message}` : ` (it is ${status.state})`;
        return `the printer “${printer.name}” did not reconnect${why}`;
      }
      await Bun.sleep(200);
    }
  }
  return null;
}

async function checkServer(subject: SelfTestSubject): Promise<string | null> {
  let response: Response;
  try {
    response = await fetch(`${subject.url}/api/v1/version`, { signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    return `the HTTP server does not answer (${(e as Error).message})`;
  }
  // With authentication on, a refusal is still an answer from this server.
  if (response.status === 401 || response.status === 403) return null;
  if (!response.ok) return `the HTTP server answers ${response.status} to /api/v1/version`;
  const body = (await response.json().catch(() => null)) as { version?: unknown } | null;
  if (body?.version !== subject.version) return `the HTTP server reports version ${String(body?.version)}, not ${subject.version}`;
  return null;
}
