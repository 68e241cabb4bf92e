/**
 * An allow-list HTML sanitiser for plugin descriptions (rendered from authors' Markdown, which may
 * contain raw HTML). Safe by construction: the input is tokenised and the output is rebuilt from
 * allowed tags and attributes only, every attribute value re-escaped, every URL checked after
 * decoding entities. Scripts, styles, frames and their content, comments, event handlers, `style`,
 * and `javascript:`/`data:` URLs never come out. Open tags are balanced, so a description cannot
 * break the page around it. Pure.
 */
import { escape } from "../../views/html.ts";

type Check = (value: string) => string | null;

const ALIGN: Check = (v) => (/^(left|center|right)$/i.test(v) ? v.toLowerCase() : null);
const SIZE: Check = (v) => (/^\d{1,4}%?$/.test(v) ? v : null);
const TEXT: Check = (v) => v;
const classIs =
  (pattern: RegExp): Check =>
  (v) =>
    pattern.test(v) ? v : null;

/** Tags that may appear, with the attributes each may keep (and how each value is checked). */
const ALLOWED: Record<string, Record<string, Check>> = {
  a: { href: (v) => safeUrl(v, ["http", "https", "mailto"]), title: TEXT },
  img: { src: (v) => safeUrl(v, ["http", "https"]), alt: TEXT, title: TEXT, width: SIZE, height: SIZE },
  input: { type: (v) => (v.toLowerCase() === "checkbox" ? "checkbox" : null), checked: () => "", class: classIs(/^task-list-item-checkbox$/) },
  code: { class: classIs(/^language-[\w+#.-]{1,40}$/) },
  li: { class: classIs(/^task-list-item$/) },
  ol: { start: (v) => (/^\d{1,6}$/.test(v) ? v : null) },
  th: { align: ALIGN },
  td: { align: ALIGN },
  abbr: { title: TEXT },
  ...Object.fromEntries(
    ["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "s", "del", "ins", "mark", "small", "sub", "sup", "pre", "kbd", "samp", "blockquote", "ul", "table", "thead", "tbody", "tfoot", "tr", "details", "summary", "div", "span", "dl", "dt", "dd", "figure", "figcaption", "caption"].map((t) => [t, {}]),
  ),
};

/** Attributes added to every kept tag of a kind (external links must not get the page's opener). */
const ADDED: Record<string, string> = {
  a: ' rel="nofollow noopener noreferrer ugc"',
  img: ' loading="lazy" referrerpolicy="no-referrer"',
  input: " disabled",
};

const VOID = new Set(["br", "hr", "img", "input", "wbr", "area", "base", "col", "embed", "link", "meta", "param", "source", "track"]);

/** Elements whose content is code or embedded documents, dropped with everything inside. */
const DROP_WITH_CONTENT = new Set(["script", "style", "iframe", "object", "embed", "noscript", "template", "textarea", "title", "xmp", "noembed", "noframes", "plaintext", "svg", "math", "select", "applet", "frameset"]);

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", colon: ":", tab: "\t", newline: "\n", sol: "/", period: ".", lpar: "(", rpar: ")" };
const ENTITY = /^&(?:[a-zA-Z][a-zA-Z0-9]{1,31}|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});/;

/**
 * Example: `sanitizeHtml('<p onclick="x">Hi<script>alert(1)</script></p>')` → `<p>Hi</p>`.
 */
export function sanitizeHtml(input: string): string {
  let out = "";
  const open: string[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    const lt = input.indexOf("<", i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) out += escapeText(input.slice(i, textEnd));
    if (lt < 0) break;
    i = lt;
    if (input.startsWith("<!--", i)) {
      const end = input.indexOf("-->", i + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    if (input[i + 1] === "!" || input[i + 1] === "?") {
      const end = input.indexOf(">", i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    const tag = readTag(input, i);
    if (!tag) {
      out += "&lt;";
      i++;
      continue;
    }
    i = tag.end;
    const name = tag.name;
    if (tag.closing) {
      const at = open.lastIndexOf(name);
      if (at >= 0) while (open.length > at) out += `</${open.pop()}>`;
      continue;
    }
    if (DROP_WITH_CONTENT.has(name)) {
      if (!tag.selfClosing) i = skipElement(input, i, name);
      continue;
    }
    const allowed = ALLOWED[name];
    if (!allowed) continue; // unknown tag: dropped, its content stays (as text and allowed tags)
    let attrs = "";
    for (const [attr, raw] of tag.attributes) {
      const check = allowed[attr];
      if (!check) continue;
      const value = check(decodeEntities(raw));
      if (value === null) continue;
      attrs += value === "" && attr === "checked" ? " checked" : ` ${attr}="${escape(value)}"`;
    }
    if (name === "input" && !/ type="checkbox"/.test(attrs)) continue;
    out += `<${name}${attrs}${ADDED[name] ?? ""}>`;
    if (!VOID.has(name)) open.push(name);
  }
  while (open.length) out += `</${open.pop()}>`;
  return out;
}

interface Tag {
  name: string;
  closing: boolean;
  selfClosing: boolean;
  attributes: [string, string][];
  end: number;
}

/** Reads `<name attr=…>` or `</name>` at `at`; null when this `<` does not start a tag. */
function readTag(s: string, at: number): Tag | null {
  const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]{0,30})(?=[\s/>])/.exec(s.slice(at, at + 40));
  if (!m) return null;
  const closing = m[1] === "/";
  const name = m[2]!.toLowerCase();
  let i = at + m[0].length;
  const attributes: [string, string][] = [];
  const n = s.length;
  while (i < n) {
    while (i < n && /[\s/]/.test(s[i]!)) i++;
    if (i >= n) return null;
    if (s[i] === ">") {
      const selfClosing = s[i - 1] === "/";
      return { name, closing, selfClosing, attributes: closing ? [] : attributes, end: i + 1 };
    }
    const nameMatch = /^[^\s"'>/=]+/.exec(s.slice(i, i + 200));
    if (!nameMatch) {
      i++; // a stray quote or "=": skip it, as browsers do
      continue;
    }
    const attr = nameMatch[0].toLowerCase();
    i += nameMatch[0].length;
    while (i < n && /\s/.test(s[i]!)) i++;
    let value = "";
    if (s[i] === "=") {
      i++;
      while (i < n && /\s/.test(s[i]!)) i++;
      const quote = s[i];
      if (quote === '"' || quote === "'") {
        const close = s.indexOf(quote, i + 1);
        if (close < 0) return null;
        value = s.slice(i + 1, close);
        i = close + 1;
      } else {
        const unquoted = /^[^\s>]*/.exec(s.slice(i))![0];
        value = unquoted;
        i += unquoted.length;
      }
    }
    if (!attributes.some(([a]) => a === attr)) attributes.push([attr, value]);
  }
  return null;
}

/** The index just after `</name>` (any case, any spacing), or the end of the input. */
function skipElement(s: string, from: number, name: string): number {
  const re = new RegExp(`</${name}[\\s/]*>`, "ig");
  re.lastIndex = from;
  const m = re.exec(s);
  return m ? m.index + m[0].length : s.length;
}

/** Text between tags: markup characters escaped, well-formed character references kept. */
function escapeText(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "&") {
      const m = ENTITY.exec(text.slice(i, i + 40));
      if (m) {
        out += m[0];
        i += m[0].length - 1;
      } else out += "&amp;";
    } else if (c === "<") out += "&lt;";
    else if (c === ">") out += "&gt;";
    else out += c;
  }
  return out;
}

/** Decodes character references as a browser does in attribute values (the ones that matter). */
function decodeEntities(value: string): string {
  return value.replace(/&(#[xX][0-9a-fA-F]+|#\d+|[a-zA-Z][a-zA-Z0-9]*);?/g, (whole, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : "\ufffd";
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}

/**
 * The URL if its scheme is allowed (or it is relative), else null. Browsers ignore tabs, newlines
 * and leading control characters in URLs, so they are removed before the scheme is read.
 */
export function safeUrl(value: string, schemes: readonly string[]): string | null {
  // eslint-disable-next-line no-control-regex
  const url = value.replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  if (url === "" || url.length > 2000) return null;
  // An entity we do not know before the first "/", "?" or "#" could hide a scheme: refuse it.
  if (/^[^/?#]*&/.test(url)) return null;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  if (scheme) return schemes.includes(scheme[1]!.toLowerCase()) ? url : null;
  // No scheme: relative. A ":" before the first "/", "?" or "#" would be read as one.
  return /^[^/?#]*:/.test(url) ? null : url;
}
