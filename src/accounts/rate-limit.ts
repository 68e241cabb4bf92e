/**
 * Login throttling (pure; time is passed in). Failed attempts are counted per address and per
 * account in a sliding window; past the limit, further attempts are refused until the window has
 * room again, whatever the password. A success clears the account's and the address's count.
 */

export interface ThrottleLimits {
  /** Failures allowed per account within the window. */
  perAccount: number;
  /** Failures allowed per address within the window (several people may share one address). */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LIMITS: ThrottleLimits = { perAccount: 5, perAddress: 20, windowMs: 10 * 60_000 };

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: ThrottleLimits = DEFAULT_LIMITS) {}

  /** Milliseconds until another attempt is allowed for this address/account, or 0 if allowed now. */
  retryAfter(address: string, account: string, now: number): number {
    const byAccount = this.wait(`u:${account.toLowerCase()}`, this.limits.perAccount, now);
    const byAddress = this.wait(`a:${address}`, this.limits.perAddress, now);
    return Math.max(byAccount, byAddress);
  }

  fail(address: string, account: string, now: number): void {
    for (const key of [`u:${account.toLowerCase()}`, `a:${address}`]) {
      const list = this.recent(key, now);
      list.push(now);
      this.failures.set(key, list);
    }
    if (this.failures.size > 10_000) this.prune(now);
  }

  succeed(address: string, account: string): void {
    this.failures.delete(`u:${account.toLowerCase()}`);
    this.failures.delete(`a:${address}`);
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
