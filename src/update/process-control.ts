/**
 * What an update needs from the process it runs in: which binary it is, how it was started, how
 * to re-execute and how to exit. The host passes the real one; in-process tests pass their own.
 */
import { hostExit } from "../plugins/exit-guard.ts";
import { carried } from "../host-lock.ts";
import { execve, type Carried } from "./exec.ts";

/**
 * Exit code meaning "restart me": used when Layerline must be restarted and cannot re-execute
 * itself (e.g. a new version failed its self-test and the watchdog is rolling back). 75 is
 * EX_TEMPFAIL. The unit from `layerline service install` restarts on it.
 */
export const EXIT_RESTART = 75;

export interface ProcessControl {
  /** The binary this process runs from; null when running from source (no self-update then). */
  execPath: string | null;
  /** The command-line arguments after the program name, to start the same way again. */
  argv: string[];
  cwd: string;
  /** Replaces this process with the binary at execPath (same pid); returns only on failure, with the reason. */
  reexec(): string;
  exit(code: number): never;
}

/** True inside a `bun build --compile` executable (its modules live under /$bunfs/). */
export function isCompiled(): boolean {
  return Bun.main.startsWith("/$bunfs/");
}

/** A program and its arguments (`argv[0]` included), as `execve` takes them. */
export interface Command {
  execPath: string;
  argv: string[];
  /** Descriptors kept open for the new program (the data folder's lock). */
  carry?: Carried[];
}

/** How this process was started: the binary and its arguments, or bun, the source's entry and its arguments. */
export function thisCommand(): Command {
  return { execPath: process.execPath, argv: [process.execPath, ...process.argv.slice(isCompiled() ? 2 : 1)] };
}

/** The control of this very process. */
export function processControl(): ProcessControl {
  const execPath = isCompiled() ? process.execPath : null;
  const argv = process.argv.slice(2);
  return {
    execPath,
    argv,
    cwd: process.cwd(),
    // The data folder's lock is handed on: no other host can start between the two programs.
    reexec: () => (execPath ? execve(execPath, [execPath, ...argv], process.env, carried()) : "running from source"),
    // The host's own exit, never refused (process.exit refuses plugin code: src/plugins/exit-guard.ts).
    exit: (code) => hostExit(code),
  };
}
