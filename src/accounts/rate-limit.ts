/**
 * Login throttling (pure; time is passed in). Failed attempts are counted in a sliding window per
 * account and address together, per address, and per account from everywhere; past a limit,
 * further attempts are refused until the window has room again, whatever the password. A success
 * clears the counts it took part in.
 *
 * The tight limit is the account's from one address: somebody who knows a user name can then
 * lock that user out only from their own address, not from everywhere (a lock of 5 failures per
 * account made locking anybody out trivial). The account's limit over all addresses is much
 * higher: it caps guessing spread over many addresses without handing out that lock.
 */

export interface ThrottleLimits {
  /** Failures allowed per account from one address within the window. */
  perAccountAddress: number;
  /** Failures allowed per account from all addresses together within the window. */
  perAccount: number;
  /** Failures allowed per address within the window (several people may share one address). */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LIMITS: ThrottleLimits = { perAccountAddress: 5, perAccount: 50, perAddress: 20, windowMs: 10 * 60_000 };

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: ThrottleLimits = DEFAULT_LIMITS) {}

  /** Milliseconds until another attempt is allowed for this address/account, or 0 if allowed now. */
  retryAfter(address: string, account: string, now: number): number {
    const [pair, byAccount, byAddress] = keys(address, account);
    return Math.max(this.wait(pair, this.limits.perAccountAddress, now), this.wait(byAccount, this.limits.perAccount, now), this.wait(byAddress, this.limits.perAddress, now));
  }

  fail(address: string, account: string, now: number): void {
    for (const key of keys(address, account)) {
      const list = this.recent(key, now);
      list.push(now);
      this.failures.set(key, list);
    }
    if (this.failures.size > 10_000) this.prune(now);
  }

  succeed(address: string, account: string): void {
    for (const key of keys(address, account)) this.failures.delete(key);
  }

  private wait(key: string, limit: number, now: number): number {
    const list = this.recent(key, now);
    if (list.length < limit) return 0;
    return list[list.length - limit]! + this.limits.windowMs - now;
  }

  private recent(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  private prune(now: number): void {
    for (const key of [...this.failures.keys()]) this.recent(key, now);
  }
}

/** The counters an attempt belongs to: the account from this address, the account, the address. */
function keys(address: string, account: string): [string, string, string] {
  const name = account.toLowerCase();
  return [`p:${name}\u0000${address}`, `u:${name}`, `a:${address}`];
}
