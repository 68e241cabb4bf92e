/**
 * Splits a registry entry (Markdown with YAML front matter, as the OctoPrint repository's
 * `_plugins/<id>.md`) into its data and its body, without trusting it. YAML is parsed by Bun's
 * built-in parser (part of the runtime we ship anyway, so no dependency): YAML 1.2 core schema,
 * no code-executing tags, alias expansion bounded ("Excessive aliasing"), dates kept as strings.
 * Pure: text in, data or problems out.
 */

/** Larger entry files are rejected before parsing (the real ones are 1–6 KB). */
export const MAX_ENTRY_BYTES = 256 * 1024;
/** The front matter alone (the real ones are under 4 KB). */
export const MAX_FRONT_MATTER_BYTES = 64 * 1024;

export interface FrontMatterProblem {
  field: string;
  message: string;
}

export type FrontMatterResult =
  | { ok: true; data: Record<string, unknown>; body: string; duplicates: string[] }
  | { ok: false; problem: FrontMatterProblem };

/**
 * Example: `parseFrontMatter("---\nid: x\n---\n# Body")` → `{ ok: true, data: { id: "x" }, body: "# Body", … }`.
 */
export function parseFrontMatter(text: string): FrontMatterResult {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_ENTRY_BYTES) return fail("(file)", `is ${bytes} bytes; entries may be at most ${MAX_ENTRY_BYTES} bytes`);
  const lines = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n").split("\n");
  if (lines[0]?.trimEnd() !== "---") return fail("(front matter)", 'missing: the file must start with a line "---", the YAML front matter, and another "---"');
  const end = lines.findIndex((l, i) => i > 0 && (l.trimEnd() === "---" || l.trimEnd() === "..."));
  if (end < 0) return fail("(front matter)", 'is not closed: add a line "---" after it');
  const yamlLines = lines.slice(1, end);
  const yaml = yamlLines.join("\n");
  if (Buffer.byteLength(yaml) > MAX_FRONT_MATTER_BYTES) return fail("(front matter)", `is larger than ${MAX_FRONT_MATTER_BYTES} bytes`);
  let data: unknown;
  try {
    data = Bun.YAML.parse(yaml);
  } catch (e) {
    const line = failingLine(yamlLines);
    return fail("(front matter)", `is not valid YAML${line ? ` (near line ${line + 1} of the file)` : ""}: ${yamlMessage(e)}`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return fail("(front matter)", "must be a YAML mapping of fields (id: …, title: …)");
  return { ok: true, data: data as Record<string, unknown>, body: lines.slice(end + 1).join("\n"), duplicates: duplicateKeys(yamlLines) };
}

function fail(field: string, message: string): FrontMatterResult {
  return { ok: false, problem: { field, message } };
}

function yamlMessage(e: unknown): string {
  const message = e instanceof RangeError ? "nested too deeply" : String((e as Error).message ?? e);
  return message.replace(/^YAML Parse error:\s*/, "");
}

/**
 * Bun's YAML errors carry no position; the first line whose prefix no longer parses is where the
 * problem starts (for block YAML, every prefix of a valid document is valid).
 */
function failingLine(yamlLines: string[]): number | null {
  for (let i = 1; i <= yamlLines.length; i++) {
    try {
      Bun.YAML.parse(yamlLines.slice(0, i).join("\n"));
    } catch {
      return i; // 1-based in the YAML = 0-based line i in the file, after the opening "---"
    }
  }
  return null;
}

/** Top-level keys given twice: YAML forbids them, the parser silently keeps the last one. */
function duplicateKeys(yamlLines: string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const line of yamlLines) {
    const m = /^([A-Za-z_][\w-]*)\s*:(\s|$)/.exec(line);
    if (!m) continue;
    if (seen.has(m[1]!)) dup.add(m[1]!);
    seen.add(m[1]!);
  }
  return [...dup];
}
