import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderDescription } from "../../src/registry/description.ts";
import { readEntry } from "../../src/registry/entry.ts";
import { safeUrl, sanitizeHtml } from "../../src/registry/sanitize.ts";
import { REAL_ENTRIES } from "./helpers.ts";

const REL = ' rel="nofollow noopener noreferrer ugc"';
const IMG = ' loading="lazy" referrerpolicy="no-referrer"';

test("hostile HTML is removed: scripts, handlers, javascript: and data: URLs, frames, styles, comments", () => {
  const cases: [string, string][] = [
    ["<p onclick=\"alert(1)\">Hi<script>alert(1)</script></p>", "<p>Hi</p>"],
    ["<img src=x onerror=alert(1)>", `<img src="x"${IMG}>`],
    ['<a href="javascript:alert(1)">x</a>', `<a${REL}>x</a>`],
    ['<a href="jav&#x61;script:alert(1)">x</a>', `<a${REL}>x</a>`],
    ['<a href="  JaVaScRiPt:alert(1)">x</a>', `<a${REL}>x</a>`],
    ['<a href="java\tscript:alert(1)">x</a>', `<a${REL}>x</a>`],
    ['<a href="javascript&colon;alert(1)">x</a>', `<a${REL}>x</a>`],
    ['<a href="javascript&unknown;:alert(1)">x</a>', `<a${REL}>x</a>`],
    ['<img src="data:image/svg+xml;base64,PHN2Zz4=">', `<img${IMG}>`],
    ['<a href="vbscript:x">x</a><a href="/ok">y</a>', `<a${REL}>x</a><a href="/ok"${REL}>y</a>`],
    ["<scr<script>ipt>alert(1)</script>", "&lt;scr"],
    ["<svg><script>alert(1)</script><circle onload=alert(1)/></svg>after", "after"],
    ['<iframe src="https://evil.example"></iframe>text', "text"],
    ["<style>body{display:none}</style><div style=\"position:fixed\">x</div>", "<div>x</div>"],
    ["<!-- <script>alert(1)</script> -->visible", "visible"],
    ["<SCRIPT SRC=//evil.example/x.js></SCRIPT>", ""],
    ["<script>never closed", ""],
    ["<b>bold</B> <font color=red>plain</font>", "<b>bold</b> plain"],
    ["<div><p>unclosed", "<div><p>unclosed</p></div>"],
    ["</div>stray</p>", "stray"],
    ["a < b && c > d &amp; &#64; &bogus", "a &lt; b &amp;&amp; c &gt; d &amp; &#64; &amp;bogus"],
    ['<a href="https://x.org/?a=1&amp;b=2" target="_blank">q</a>', `<a href="https://x.org/?a=1&amp;b=2"${REL}>q</a>`],
    ['<input type="text" value="x"><input type="checkbox" checked onchange=x>', "<input type=\"checkbox\" checked disabled>"],
    ['<code class="language-js" id="x">a</code><code class="evil">b</code>', '<code class="language-js">a</code><code>b</code>'],
    ['<img src="https://x.org/a.png" width="100" height="100%" alt=\'"><script>\'>', `<img src="https://x.org/a.png" width="100" height="100%" alt="&quot;&gt;&lt;script&gt;"${IMG}>`],
    ["<form action=/x><button formaction=javascript:alert(1)>Go</button></form>", "Go"],
    ["<math><mi xlink:href=javascript:alert(1)>x</mi></math>y", "y"],
    ["<a href=\"mailto:a@b.org\">mail</a>", `<a href="mailto:a@b.org"${REL}>mail</a>`],
    ["<details><summary>More</summary>Text</details>", "<details><summary>More</summary>Text</details>"],
  ];
  for (const [input, output] of cases) expect([input, sanitizeHtml(input)]).toEqual([input, output]);
});

test("safeUrl reads the scheme as a browser would", () => {
  expect(safeUrl("https://example.org/x", ["https"])).toBe("https://example.org/x");
  expect(safeUrl("/assets/a.png", ["https"])).toBe("/assets/a.png");
  expect(safeUrl("#top", ["https"])).toBe("#top");
  expect(safeUrl("page.html?x=a:b", ["https"])).toBe("page.html?x=a:b");
  expect(safeUrl("\u0001javascript:alert(1)", ["https"])).toBeNull();
  expect(safeUrl("weird:thing", ["https"])).toBeNull();
  expect(safeUrl("", ["https"])).toBeNull();
});

test("Markdown descriptions render, with raw HTML sanitised and Liquid page fields filled in", () => {
  const html = renderDescription(
    `# Title\n\nSee the [homepage]({{ page.homepage | absolute_url }}).\n\n{% include youtube.html vid="x" %}\n\n<script>alert(1)</script>\n\n- [x] done\n- [ ] todo\n\n[bad](javascript:alert(1)) ![pic](/assets/a.png) https://auto.example`,
    { homepage: "https://example.org/p" },
  );
  expect(html).toContain("<h1>Title</h1>");
  expect(html).toContain(`<a href="https://example.org/p"${REL}>homepage</a>`);
  expect(html).not.toContain("{%");
  expect(html).not.toContain("youtube");
  expect(html).not.toMatch(/<script|javascript:|onerror|onclick/i);
  expect(html).toContain('<input type="checkbox" class="task-list-item-checkbox" checked disabled>');
  expect(html).toContain(`<img src="/assets/a.png" alt="pic"${IMG}>`);
  expect(html).toContain(`<a href="https://auto.example"${REL}>https://auto.example</a>`);
});

test("the real SimplyPrint entry renders without its raw-HTML icons' styles or the Liquid include", () => {
  const { entry } = readEntry("SimplyPrint.md", readFileSync(join(REAL_ENTRIES, "SimplyPrint.md"), "utf8"));
  const html = renderDescription(entry!.body, entry!.data);
  expect(html).toContain("<h1>Connect your printer to the SimplyPrint cloud in minutes</h1>");
  expect(html).toContain(`<a href="https://www.facebook.com/simplyprintDK"${REL}><i></i></a>`);
  expect(html).not.toContain("style=");
  expect(html).not.toContain("include youtube");
  expect(html).toContain("<hr>");
});
