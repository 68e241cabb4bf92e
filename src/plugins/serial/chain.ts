/**
 * Passing lines through a list of steps (stages, or plugins within a stage), each turning one
 * line into zero or more. Stays synchronous — no promise, no microtask — until some step answers
 * with a promise, so a serial path whose hooks are all synchronous costs no extra turn.
 * Example: `chain(["M600"], [a, b], run)` runs `a` on "M600", then `b` on each of `a`'s lines.
 */
export type MaybeAsync<T> = T | Promise<T>;

export function chain<S>(lines: string[], steps: readonly S[], run: (step: S, line: string) => MaybeAsync<string[]>, from = 0): MaybeAsync<string[]> {
  if (from >= steps.length || lines.length === 0) return lines;
  const step = steps[from]!;
  // One line through the last step (every line, with one stage hooked): its answer is the result.
  if (lines.length === 1 && from === steps.length - 1) return run(step, lines[0]!);
  const out = collect(lines, (line) => run(step, line));
  return out instanceof Promise ? out.then((ls) => chain(ls, steps, run, from + 1)) : chain(out, steps, run, from + 1);
}

/** Concatenates `run(item)` over `items` in order; synchronous until some call returns a promise. */
export function collect<S>(items: readonly S[], run: (item: S) => MaybeAsync<string[]>): MaybeAsync<string[]> {
  const out: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const result = run(items[i]!);
    if (result instanceof Promise) {
      return (async () => {
        out.push(...(await result));
        for (let k = i + 1; k < items.length; k++) out.push(...(await run(items[k]!)));
        return out;
      })();
    }
    out.push(...result);
  }
  return out;
}
