/**
 * Where a Worker's entry file is, given its path inside `src/`. Running from source this module
 * sits in `src/`; in the compiled binary every module's `import.meta.url` is the executable's
 * at `/$bunfs/root/`, and Worker entrypoints (build.ts ENTRYPOINTS) are stored under that root
 * with their path inside `src/`. Both resolve the same relative path from here.
 * Example: `new Worker(workerUrl("analysis/analysis-worker.ts"))`.
 */
export function workerUrl(pathInSrc: string): string {
  return new URL(`./${pathInSrc}`, import.meta.url).href;
}
