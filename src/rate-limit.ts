/**
 * Log lines that something outside the host can cause in a loop, at most so many a second per
 * key: a plugin calling `ctx.log` or `ctx.notify` (per plugin, on the main thread and in the
 * printers' threads), or a client flooding the MQTT bridge with refused commands. Neither may
 * flood the log, the notices or every page's event stream. `now` is in milliseconds (passed in,
 * so the rule is testable without a clock).
 */
export const LOG_PER_SECOND = 20;

/** A per-key budget of `limit` a second; returns whether a message of `key` may go out at `now`. */
export function perSecondBudget(limit = LOG_PER_SECOND): (key: string, now: number) => boolean {
  const budgets = new Map<string, { second: number; count: number }>();
  return (key, now) => {
    const second = Math.floor(now / 1000);
    const budget = budgets.get(key);
    if (!budget || budget.second !== second) {
      budgets.set(key, { second, count: 1 });
      return true;
    }
    return ++budget.count <= limit;
  };
}
