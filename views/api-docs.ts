/**
 * The native API for people: every endpoint with what it does, the permission it needs, its body
 * fields and a curl example (generated from the same data as /api/v1/openapi.json).
 */
import { html, type Html } from "./html.ts";
import { layout } from "./layout.ts";

export interface DocEndpoint {
  method: string;
  path: string;
  description: string;
  permission: string | null;
  body: (Record<string, unknown> & { properties?: Record<string, Record<string, unknown>>; required?: string[] }) | undefined;
  multipart: boolean;
}

/** An example value for a JSON Schema property. */
function example(name: string, p: Record<string, unknown>): unknown {
  if (Array.isArray(p.enum)) return p.enum[0];
  if (p.default !== undefined) return p.default;
  if (p.anyOf) return example(name, (p.anyOf as Record<string, unknown>[])[0]!);
  switch (p.type) {
    case "integer":
    case "number":
      return typeof p.minimum === "number" ? p.minimum : 1;
    case "boolean":
      return true;
    case "array":
      return name === "commands" ? ["G28", "M105"] : [];
    case "object":
      return {};
    default:
      return name === "file" ? "benchy.gcode" : name === "password" ? "a long password" : name === "username" ? "alice" : name === "name" ? "My key" : name === "port" ? "/dev/ttyUSB0" : "…";
  }
}

export function curlExample(origin: string, e: DocEndpoint): string {
  const path = e.path.replace(":id", "ID").replace(":name", "NAME").replace("*", "benchy.gcode");
  const parts = ["curl"];
  if (e.permission) parts.push('-H "X-Api-Key: $KEY"');
  if (e.method !== "GET" && !(e.method === "POST" && e.multipart)) parts.push(`-X ${e.method}`);
  if (e.body?.properties) {
    if (e.multipart) {
      for (const [name, p] of Object.entries(e.body.properties)) if (e.body.required?.includes(name)) parts.push(p.format === "binary" ? `-F ${name}=@benchy.gcode` : `-F ${name}=…`);
    } else {
      const body = Object.fromEntries(Object.entries(e.body.properties).filter(([n]) => e.body!.required?.includes(n)).map(([n, p]) => [n, example(n, p)]));
      parts.push("-H 'content-type: application/json'", `-d '${JSON.stringify(body)}'`);
    }
  }
  parts.push(`${origin}${path}`);
  return parts.join(" ");
}

export function apiDocsPage(origin: string, endpoints: DocEndpoint[]): Html {
  return layout(
    "API",
    html`<section class="card api-docs">
  <h1>Layerline API</h1>
  <p>Every call needs an API key unless marked public: create one under <a href="/account">Account → API keys</a> (or <code>layerline apikey create --user NAME --scope full</code>) and send it as <code>X-Api-Key</code>, <code>Authorization: Bearer …</code> or <code>?apikey=</code>. Errors are JSON <code>{"error": {"code", "message", "hint"}}</code> with a 4xx status. Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>. OctoPrint clients use the OctoPrint-compatible API at <code>/api/…</code> (and <code>/printers/&lt;id&gt;/api/…</code>).</p>
  <pre>KEY=your-api-key</pre>
  ${endpoints.map(
    (e) => html`<article class="endpoint" id="${e.method}-${e.path}">
    <h3><code>${e.method} ${e.path}</code> <span class="badge">${e.permission ?? "public"}</span></h3>
    ${e.description ? html`<p>${e.description}</p>` : ""}
    ${e.body?.properties
      ? html`<table class="list"><thead><tr><th>Field</th><th>Type</th><th></th></tr></thead><tbody>${Object.entries(e.body.properties).map(
          ([name, p]) => html`<tr><td><code>${name}</code></td><td>${String(p.type ?? (p.anyOf ? "one of several" : p.enum ? "enum" : ""))}${Array.isArray(p.enum) ? html` (${p.enum.join(", ")})` : ""}</td><td>${e.body!.required?.includes(name) ? "required" : "optional"}</td></tr>`,
        )}</tbody></table>`
      : ""}
    <pre>${curlExample(origin, e)}</pre>
  </article>`,
  )}
</section>`,
  );
}
