/**
 * A push at most every `ms`: the first call runs at once, and calls within the interval after a
 * run are folded into one at its end — never dropped, so the latest state always goes out.
 * Example: `const push = throttle(() => send("files", "…"), 500); push(); push(); push();` sends
 * twice: now, and 500 ms later. `cancel()` forgets a run still waiting (the client went away).
 */
export function throttle(run: () => void, ms: number): { (): void; cancel(): void } {
  let last = -Infinity;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    pending = undefined;
    last = Date.now();
    run();
  };
  const call = () => {
    if (pending) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) fire();
    else pending = setTimeout(fire, wait);
  };
  call.cancel = () => {
    if (pending) clearTimeout(pending);
    pending = undefined;
  };
  return call;
}
