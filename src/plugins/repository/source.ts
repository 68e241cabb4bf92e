/**
 * Where the repository index comes from: its URL (setting `plugins.repositoryUrl`, else the one
 * a release build was stamped with), a copy cached in the data folder (so the browser works
 * offline and right after start), and a refresh on a schedule (`plugins.refreshHours`). A failed
 * refresh keeps the previous copy and says why. `notices.json` beside the index is read too.
 *
 * When a key is trusted for the URL in use (the release build's own key for its built-in URL, or
 * the public key set in the repository settings, `plugins.repositoryPublicKey`), both files are
 * used only if their detached signatures verify (signature.ts); otherwise the index is used
 * unsigned and the status says so. The cache keeps the exact bytes with their signatures and is
 * verified again on every load and whenever the trusted key changes: a recorded "verified" flag
 * would be believed from a file anyone able to write the data folder could edit, and would not
 * say whether the copy is signed by the key trusted now.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import type { SettingsStore } from "../../db/settings.ts";
import { fetchBytes } from "../fetch-bytes.ts";
import { describe } from "../guard.ts";
import { publicKeyPem } from "../../signing/ed25519.ts";
import { parseIndex, type IndexEntry, type IndexProblem } from "./entry.ts";
import { PublicKeyPemSchema, SignatureRefused, signatureUrl, trustedKey, verifySignedFile, type TrustedKey } from "./signature.ts";

declare const LAYERLINE_PLUGIN_INDEX_URL: string | undefined;
declare const LAYERLINE_PLUGIN_INDEX_PUBLIC_KEY: string | undefined;

/** The index a release build uses unless configured otherwise (`bun run release --plugin-index-url`). */
export const BUILT_IN_INDEX_URL: string | null = typeof LAYERLINE_PLUGIN_INDEX_URL === "string" && LAYERLINE_PLUGIN_INDEX_URL ? LAYERLINE_PLUGIN_INDEX_URL : null;
/** The public key (PEM) the built-in index is signed with (`bun run release --plugin-index-public-key`). */
export const BUILT_IN_INDEX_KEY: string | null = typeof LAYERLINE_PLUGIN_INDEX_PUBLIC_KEY === "string" && LAYERLINE_PLUGIN_INDEX_PUBLIC_KEY ? LAYERLINE_PLUGIN_INDEX_PUBLIC_KEY : null;

export const IndexUrlSchema = v.pipe(v.string(), v.trim(), v.check((s) => /^https?:\/\//.test(s) && URL.canParse(s), "must be an http(s) URL"));
export const RepositorySettingsSchema = v.object({
  /** The index URL; null = the built-in one. */
  url: v.optional(v.nullable(IndexUrlSchema)),
  /** Hours between refreshes; 0 = only on demand. */
  refreshHours: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(24 * 30))),
  /**
   * The index's Ed25519 public key (PEM): its signature must verify with it. null = none (then
   * the built-in URL is checked with the built-in key, any other URL is used unsigned). A change
   * of URL without a key removes the key set for the old one.
   */
  publicKey: v.optional(v.nullable(PublicKeyPemSchema)),
});

const KEY = { url: "plugins.repositoryUrl", refreshHours: "plugins.refreshHours", publicKey: "plugins.repositoryPublicKey" } as const;
const CACHE_FILE = "plugin-repository.json";

/** Where the index is fetched from: the setting, else the URL built into this binary (null: none). */
export function configuredIndexUrl(settings: SettingsStore, builtIn: string | null = BUILT_IN_INDEX_URL): string | null {
  return settings.get(KEY.url, v.nullable(IndexUrlSchema), null) ?? builtIn;
}

/** Hours between refreshes of the index (0: never by itself). */
export function configuredRefreshHours(settings: SettingsStore): number {
  return settings.get(KEY.refreshHours, v.number(), 24);
}
/** An index larger than this is refused (the real OctoPrint index is 0.4 MB). */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

export const NoticeSchema = v.object({
  plugin: v.string(),
  date: v.fallback(v.optional(v.string(), ""), ""),
  text: v.string(),
  versions: v.fallback(v.optional(v.nullable(v.array(v.string())), null), null),
  link: v.fallback(v.optional(v.nullable(v.string()), null), null),
  kind: v.fallback(v.optional(v.picklist(["info", "warning", "compatibility"]), "info"), "info"),
});
export type RepositoryNotice = v.InferOutput<typeof NoticeSchema>;

/** The index and notices as downloaded: each file's exact text and its signature file's (null: none fetched). */
interface IndexCopy {
  url: string;
  fetchedAt: number;
  index: string;
  indexSignature: string | null;
  notices: string | null;
  noticesSignature: string | null;
}
const CacheSchema = v.union([
  v.object({ format: v.literal(2), url: v.string(), fetchedAt: v.number(), index: v.string(), indexSignature: v.nullable(v.string()), notices: v.nullable(v.string()), noticesSignature: v.nullable(v.string()) }),
  // Written before the index was signed: parsed JSON, no signatures (used only while no key is trusted).
  v.pipe(
    v.object({ url: v.string(), fetchedAt: v.number(), index: v.unknown(), notices: v.optional(v.array(v.unknown()), []) }),
    v.transform((c): IndexCopy => ({ url: c.url, fetchedAt: c.fetchedAt, index: JSON.stringify(c.index), indexSignature: null, notices: JSON.stringify(c.notices), noticesSignature: null })),
  ),
]);

export interface RepositoryStatus {
  /** Where the index is fetched from (the setting, else the built-in URL). */
  url: string | null;
  refreshHours: number;
  /** Where and when the index in use was fetched: it may be a cached copy from an earlier URL. */
  source: string | null;
  fetchedAt: number | null;
  entries: number;
  problems: IndexProblem[];
  error: string | null;
  /** Whether the index in use was verified with the trusted key, and that key's id. */
  verified: boolean;
  keyId: string | null;
  /** The key the index at `url` must be signed with (and its PEM); null: the index is used unsigned. */
  trustedKey: { keyId: string; source: TrustedKey["source"]; publicKey: string } | null;
}

export class PluginRepository {
  private entries: IndexEntry[] = [];
  private problems: IndexProblem[] = [];
  private notices: RepositoryNotice[] = [];
  private fetchedAt: number | null = null;
  private fetchedUrl: string | null = null;
  private error: string | null = null;
  /** The copy in use, as downloaded (re-verified when the trusted key changes). */
  private copy: IndexCopy | null = null;
  private verifiedBy: string | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: { settings: string; done: Promise<void> } | undefined;
  private closed = false;
  /** Bumped whenever the entries change, so callers can rebuild what they derive from them. */
  version = 0;

  constructor(
    private readonly options: {
      dataDir: string;
      settings: SettingsStore;
      log: (line: string) => void;
      onChange?: () => void;
      /** The index URL and key built into this binary (tests give their own). */
      builtIn?: { url: string | null; publicKey: string | null };
    },
  ) {
    this.loadCache();
  }

  private get builtIn() {
    return this.options.builtIn ?? { url: BUILT_IN_INDEX_URL, publicKey: BUILT_IN_INDEX_KEY };
  }

  url(): string | null {
    return configuredIndexUrl(this.options.settings, this.builtIn.url);
  }

  /** The key the index at url() must be signed with: the one set in the settings, else the built-in key for the built-in URL. */
  trusted(): TrustedKey | null {
    const pem = this.options.settings.get(KEY.publicKey, v.nullable(PublicKeyPemSchema), null);
    if (pem) return trustedKey(pem, "setting");
    const builtIn = this.builtIn;
    return builtIn.publicKey && builtIn.url !== null && this.url() === builtIn.url ? trustedKey(builtIn.publicKey, "built-in") : null;
  }

  refreshHours(): number {
    return configuredRefreshHours(this.options.settings);
  }

  status(): RepositoryStatus {
    const trusted = this.trusted();
    return {
      url: this.url(),
      refreshHours: this.refreshHours(),
      source: this.fetchedUrl,
      fetchedAt: this.fetchedAt,
      entries: this.entries.length,
      problems: this.problems,
      error: this.error,
      verified: this.verifiedBy !== null,
      keyId: this.verifiedBy,
      trustedKey: trusted ? { keyId: trusted.keyId, source: trusted.source, publicKey: publicKeyPem(trusted.key) } : null,
    };
  }

  list(): readonly IndexEntry[] {
    return this.entries;
  }

  /** Notices for `plugin` at `version` (all versions when the notice names none). */
  noticesFor(plugin: string, version: string | null): RepositoryNotice[] {
    return this.notices.filter((n) => n.plugin === plugin && (n.versions === null || (version !== null && n.versions.includes(version))));
  }

  /**
   * Saves the settings, then fetches and verifies the index under them; resolves once that is
   * done, so the status read after it is the verdict on the index at the new URL with the new key.
   * The copy in use is re-checked at once (one the new key does not verify is not used meanwhile),
   * but that verdict is on a copy fetched under the old settings — often without its signature,
   * for none was asked then — and is not reported as the new state: the fetch's outcome is.
   */
  async changeSettings(change: v.InferOutput<typeof RepositorySettingsSchema>): Promise<void> {
    const trustedBefore = this.trusted()?.keyId ?? null;
    const urlBefore = this.url();
    if (change.url !== undefined) {
      if (change.url === null) this.options.settings.delete(KEY.url);
      else this.options.settings.set(KEY.url, change.url);
    }
    // A key belongs to the index it was given for.
    const publicKey = change.publicKey !== undefined ? change.publicKey : this.url() !== urlBefore ? null : undefined;
    if (publicKey === null) this.options.settings.delete(KEY.publicKey);
    else if (publicKey !== undefined) this.options.settings.set(KEY.publicKey, publicKey);
    if (change.refreshHours !== undefined) this.options.settings.set(KEY.refreshHours, change.refreshHours);
    if ((this.trusted()?.keyId ?? null) !== trustedBefore) this.recheck();
    this.stop();
    if (this.url() === null) return;
    await this.refresh();
  }

  /** Refreshes now if the cached copy is older than the schedule (or from another URL), then on schedule. */
  start(): void {
    const url = this.url();
    const hours = this.refreshHours();
    const stale = url !== null && (this.fetchedUrl !== url || this.fetchedAt === null || (hours > 0 && Date.now() - this.fetchedAt > hours * 3_600_000));
    this.schedule(stale ? 0 : hours > 0 && this.fetchedAt !== null ? Math.max(0, this.fetchedAt + hours * 3_600_000 - Date.now()) : -1);
  }

  /** Stops the schedule (refresh() still works). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** For good (the host is shutting down): no more refreshes, and one under way changes nothing once its fetch is back. */
  close(): void {
    this.closed = true;
    this.stop();
  }

  /**
   * Downloads the index (and notices) now; concurrent calls for the same URL and key share one
   * download. One still under way for other settings is let finish first: its answer must not
   * stand for the settings of now.
   */
  refresh(): Promise<void> {
    const settings = `${this.url()} ${this.trusted()?.keyId ?? "unsigned"}`;
    if (this.refreshing?.settings === settings) return this.refreshing.done;
    const done: Promise<void> = (this.refreshing?.done ?? Promise.resolve()).then(() => this.download()).finally(() => {
      if (this.refreshing?.done !== done) return;
      this.refreshing = undefined;
      // Settings live in the database, closed by now when the host stopped meanwhile.
      if (this.closed) return;
      const hours = this.refreshHours();
      if (hours > 0) this.schedule(hours * 3_600_000);
    });
    this.refreshing = { settings, done };
    return done;
  }

  private schedule(ms: number): void {
    this.stop();
    if (this.closed || ms < 0 || this.url() === null) return;
    this.timer = setTimeout(() => void this.refresh(), Math.min(ms, 2 ** 31 - 1));
    this.timer.unref?.();
  }

  private async download(): Promise<void> {
    if (this.closed) return;
    const url = this.url();
    if (!url) {
      this.error = "No plugin repository is configured.";
      return;
    }
    try {
      let problems: IndexProblem[] = [];
      // A registry may swap in a rebuilt (newly signed) site between two requests: one more try.
      for (let attempt = 1; ; attempt++) {
        const fetched = await fetchCopy(url, this.trusted() !== null);
        if (this.closed) return;
        try {
          problems = this.adopt(fetched.copy, fetched.missing);
          this.saveCache(fetched.copy);
          break;
        } catch (e) {
          if (attempt === 2 || !this.trusted()) throw e;
        }
      }
      this.error = null;
      if (problems.length) this.options.log(`plugin repository ${url}: ${problems.length} entries skipped (first: #${problems[0]!.index} ${problems[0]!.message})`);
    } catch (e) {
      this.error = `Could not refresh the plugin repository from ${url}: ${reason(e)}`;
      this.options.log(`warning: ${this.error}`);
    }
  }

  /**
   * Makes `copy` the index in use if it may be: its signatures verify with the key trusted now
   * (when one is) and it parses. Throws a sentence, changing nothing, when it may not.
   * `missing` says why a signature is absent (it could not be fetched).
   */
  private adopt(copy: IndexCopy, missing: { index?: string; notices?: string } = {}): IndexProblem[] {
    const trusted = this.trusted();
    let verifiedBy: string | null = null;
    if (trusted) {
      const signature = (text: string | null, why = "the cached copy has none") => (text === null ? { missing: why } : { text });
      verifiedBy = verifySignedFile(copy.url, encoder.encode(copy.index), signature(copy.indexSignature, missing.index), trusted);
      if (copy.notices !== null) verifySignedFile(noticesUrl(copy.url), encoder.encode(copy.notices), signature(copy.noticesSignature, missing.notices), trusted);
    }
    const { entries, problems } = parseIndex(parseJson(copy.index));
    let notices: unknown = [];
    try {
      notices = copy.notices === null ? [] : JSON.parse(copy.notices);
    } catch {
      // notices.json is optional; an unreadable one is no notices
    }
    this.copy = copy;
    this.verifiedBy = verifiedBy;
    this.use(copy.url, copy.fetchedAt, entries, problems, Array.isArray(notices) ? notices : []);
    return problems;
  }

  /** Checks the copy in use again after the trusted key changed; one that no longer passes is put away. */
  private recheck(): void {
    if (!this.copy) return;
    try {
      this.adopt(this.copy);
    } catch (e) {
      this.error = `The index in use (from ${this.copy.url}) is not used any more: ${reason(e)}`;
      this.copy = null;
      this.verifiedBy = null;
      this.use(null, null, [], [], []);
    }
  }

  private use(url: string | null, fetchedAt: number | null, entries: IndexEntry[], problems: IndexProblem[], notices: unknown[]): void {
    this.entries = entries;
    this.problems = problems;
    this.notices = notices.flatMap((n) => {
      const parsed = v.safeParse(NoticeSchema, n);
      return parsed.success ? [parsed.output] : [];
    });
    this.fetchedAt = fetchedAt;
    this.fetchedUrl = url;
    this.version++;
    this.options.onChange?.();
  }

  private loadCache(): void {
    let copy: IndexCopy;
    try {
      const parsed = v.safeParse(CacheSchema, JSON.parse(readFileSync(join(this.options.dataDir, "cache", CACHE_FILE), "utf8")));
      if (!parsed.success) return;
      copy = parsed.output;
    } catch {
      return; // no cache yet, or unreadable: the first refresh writes one
    }
    try {
      this.adopt(copy);
    } catch (e) {
      this.error = `The cached plugin index (from ${copy.url}) is not used: ${reason(e)}`;
      this.options.log(`warning: ${this.error}`);
    }
  }

  private saveCache(copy: IndexCopy): void {
    const dir = join(this.options.dataDir, "cache");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, CACHE_FILE);
    writeFileSync(`${path}.tmp`, JSON.stringify({ format: 2, ...copy }));
    renameSync(`${path}.tmp`, path);
  }
}

const encoder = new TextEncoder();
/** Why a copy was refused: a signature refusal in full (it ends with the fix), anything else in short. */
const reason = (e: unknown) => (e instanceof SignatureRefused ? e.message : describe(e));
const noticesUrl = (indexUrl: string) => new URL("notices.json", indexUrl).href;

/**
 * Downloads the index, notices.json (optional) and, when `signed`, their signature files. A
 * missing signature is not an error here: `missing` says why, for the check to name.
 */
async function fetchCopy(url: string, signed: boolean): Promise<{ copy: IndexCopy; missing: { index?: string; notices?: string } }> {
  const signature = async (of: string) => {
    if (!signed) return { text: null };
    try {
      return { text: await fetchText(signatureUrl(of)) };
    } catch (e) {
      return { text: null, missing: describe(e) };
    }
  };
  const [index, indexSignature] = await Promise.all([fetchText(url), signature(url)]);
  let notices: string | null = null;
  try {
    notices = await fetchText(noticesUrl(url));
  } catch {
    // notices.json is optional
  }
  const noticesSignature = notices === null ? { text: null } : await signature(noticesUrl(url));
  return {
    copy: { url, fetchedAt: Date.now(), index, indexSignature: indexSignature.text, notices, noticesSignature: noticesSignature.text },
    missing: { index: indexSignature.missing, notices: noticesSignature.missing },
  };
}

/** The index's JSON, or an error in words: a web page (a login portal, a wrong URL) says so. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    const start = text.trim().slice(0, 60).replace(/\s+/g, " ");
    const page = /^</.test(start) ? "a web page, not a plugin index — is the URL the index's plugins.json?" : "not a plugin index (JSON)";
    throw new Error(start ? `its answer is ${page} It begins: ${JSON.stringify(start)}` : "its answer is empty");
  }
}

/** The file as text; its bytes must be UTF-8, so that the text is exactly the bytes a signature covers. */
const fetchText = async (url: string) => {
  const bytes = await fetchBytes(url, { maxBytes: MAX_INDEX_BYTES, timeoutMs: FETCH_TIMEOUT_MS });
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new Error(`${url} is not UTF-8 text`);
  }
};
