/**
 * Calling plugin code under a time budget (design principle 8). A throw, a rejection or a run
 * beyond the budget is a failure described in words; the caller counts it as a fault. A
 * synchronous hook cannot be interrupted (JavaScript has one thread per Worker), so one that
 * overruns is measured afterwards and its result discarded; an asynchronous one is cut off.
 */
import type { MaybeAsync } from "./serial/chain.ts";

export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string; error?: unknown };

/** Runs `fn` within `budgetMs`; stays synchronous when `fn` is. */
export function guarded<T>(fn: () => T | Promise<T>, budgetMs: number): MaybeAsync<Outcome<T>> {
  const started = performance.now();
  const first = attempt(fn);
  if (!first.ok) return first;
  const result = first.value;
  if (!(result instanceof Promise)) {
    const took = performance.now() - started;
    return took > budgetMs ? { ok: false, message: `took ${Math.round(took)} ms (budget ${budgetMs} ms)` } : { ok: true, value: result };
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, message: `did not answer within ${budgetMs} ms` }), budgetMs);
    result.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (e) => {
        clearTimeout(timer);
        resolve({ ok: false, message: `failed: ${describe(e)}`, error: e });
      },
    );
  });
}

/** Runs synchronous plugin code that has nothing to wait for (a settings schema); a throw is a failure. */
export function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, message: `threw: ${describe(e)}`, error: e };
  }
}

/** An error's message, briefly; any value a plugin may throw (one whose conversion to text throws too). */
export function describe(e: unknown): string {
  let text: string;
  try {
    text = e instanceof Error ? String(e.message) : typeof e === "string" ? e : shownValue(e);
  } catch {
    text = Object.prototype.toString.call(e);
  }
  return text.split("\n")[0]!.slice(0, 300) || (e instanceof Error ? e.name : "unknown error");
}

/** A thrown value that is no Error, as text that says what it is (42, undefined, {"code":1}). */
function shownValue(e: unknown): string {
  if (typeof e !== "object" || e === null) return String(e);
  const json = JSON.stringify(e);
  return json === undefined || json === "{}" ? String(e) : json;
}
