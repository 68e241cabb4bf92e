/**
 * Pending requests of the app-keys flow (OctoPrint's "appkeys" plugin): an app asks for a key,
 * polls for the decision, and a logged-in user grants or denies it in the UI. Held in memory like
 * OctoPrint does: a restart simply makes the app ask again. Pure apart from randomness; time is
 * passed in.
 */
import { newToken } from "./tokens.ts";

/** An app that stops polling for this long has given up. */
export const POLL_TIMEOUT_MS = 60_000;
/** A request nobody decided on in this time expires. */
export const DECISION_TIMEOUT_MS = 10 * 60_000;

export interface AppKeyRequest {
  appToken: string;
  userToken: string;
  app: string;
  /** The user the app asked for, if it named one. */
  user: string | null;
  createdAt: number;
  lastPoll: number;
  decision: "pending" | "granted" | "denied";
  /** The granted key, handed to the app on its next poll and then forgotten. */
  key: string | null;
}

/**
 * Whether the user named `userName` may decide on the request: a request that names a user is
 * that user's alone (the key is made for whoever decides, so nobody else may, not even an admin),
 * one that names nobody is anyone's who may grant access. OctoPrint's appkeys plugin has the same rule.
 */
export function mayDecide(request: Pick<AppKeyRequest, "user">, userName: string): boolean {
  return request.user === null || request.user === userName;
}

export type PollResult = { status: "pending" } | { status: "granted"; key: string } | { status: "gone" };

export class AppKeyRequests {
  private readonly byAppToken = new Map<string, AppKeyRequest>();

  request(app: string, user: string | null, now: number): AppKeyRequest {
    this.expire(now);
    const request: AppKeyRequest = { appToken: newToken(), userToken: newToken(), app, user, createdAt: now, lastPoll: now, decision: "pending", key: null };
    this.byAppToken.set(request.appToken, request);
    return request;
  }

  poll(appToken: string, now: number): PollResult {
    this.expire(now);
    const request = this.byAppToken.get(appToken);
    if (!request || request.decision === "denied") {
      this.byAppToken.delete(appToken);
      return { status: "gone" };
    }
    request.lastPoll = now;
    if (request.decision === "granted" && request.key) {
      this.byAppToken.delete(appToken);
      return { status: "granted", key: request.key };
    }
    return { status: "pending" };
  }

  byUserToken(userToken: string, now: number): AppKeyRequest | undefined {
    this.expire(now);
    for (const r of this.byAppToken.values()) if (r.userToken === userToken && r.decision === "pending") return r;
    return undefined;
  }

  byApp(appToken: string, now: number): AppKeyRequest | undefined {
    this.expire(now);
    const r = this.byAppToken.get(appToken);
    return r && r.decision === "pending" ? r : undefined;
  }

  /** Records `userName`'s decision (false if the request is gone or not theirs to decide); a grant carries the key to hand over. */
  decide(userToken: string, userName: string, decision: { grant: true; key: string } | { grant: false }, now: number): boolean {
    const request = this.byUserToken(userToken, now);
    if (!request || !mayDecide(request, userName)) return false;
    request.decision = decision.grant ? "granted" : "denied";
    request.key = decision.grant ? decision.key : null;
    request.lastPoll = now; // the app gets a full poll interval to collect the key
    return true;
  }

  /** The undecided requests `userName` may decide on. */
  pendingFor(userName: string, now: number): AppKeyRequest[] {
    this.expire(now);
    return [...this.byAppToken.values()].filter((r) => r.decision === "pending" && mayDecide(r, userName));
  }

  private expire(now: number): void {
    for (const [token, r] of this.byAppToken) {
      if (now - r.lastPoll > POLL_TIMEOUT_MS || now - r.createdAt > DECISION_TIMEOUT_MS) this.byAppToken.delete(token);
    }
  }
}
