/**
 * The native API for people: every endpoint with what it does, the permission it needs, its body
 * fields and a curl example (generated from the same data as /api/v1/openapi.json).
 */
import { html, type Html } from "./html.ts";
import { layout } from "./layout.ts";

export type JsonSchema = Record<string, unknown> & { properties?: Record<string, Record<string, unknown>>; required?: string[] };

/** A body an endpoint takes, by content type (JSON, a multipart form, or raw bytes). */
export interface DocBody {
  type: string;
  schema: JsonSchema;
}

export interface DocEndpoint {
  method: string;
  path: string;
  description: string;
  permission: string | null;
  /** None, one, or several alternatives (e.g. a file upload, or JSON that makes a folder). */
  bodies: DocBody[];
  /** What a success answers, by content type, when the route documents it. */
  response?: DocBody[];
}

/** An example value for a JSON Schema property. */
function example(name: string, p: Record<string, unknown>): unknown {
  if (p.const !== undefined) return p.const;
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

/** A curl command for the endpoint, sending `body` (one of its bodies) with its required fields. */
export function curlExample(origin: string, e: DocEndpoint, body: DocBody | undefined = e.bodies[0]): string {
  const path = e.path.replace(":id", "ID").replace(":name", "NAME").replace("*", "benchy.gcode");
  const parts = ["curl"];
  if (e.permission) parts.push('-H "X-Api-Key: $KEY"');
  const form = body?.type === "multipart/form-data";
  const raw = body?.type === "application/octet-stream";
  // -F makes a POST and -T a PUT by themselves.
  if (e.method !== "GET" && !(e.method === "POST" && form) && !(e.method === "PUT" && raw)) parts.push(`-X ${e.method}`);
  const schema = body?.schema;
  const properties = Object.entries(schema?.properties ?? {});
  // The required fields; where all are optional, the first one, so the example does something.
  const shown = properties.some(([n]) => schema?.required?.includes(n)) ? properties.filter(([n]) => schema?.required?.includes(n)) : properties.slice(0, 1);
  if (raw) parts.push("-T benchy.gcode");
  else if (form) for (const [name, p] of shown) parts.push(p.format === "binary" ? `-F ${name}=@benchy.gcode` : `-F ${name}=…`);
  else if (schema?.properties) parts.push("-H 'content-type: application/json'", `-d '${JSON.stringify(Object.fromEntries(shown.map(([n, p]) => [n, example(n, p)])))}'`);
  parts.push(`${origin}${path}`);
  return parts.join(" ");
}

/** A body as the shapes it may take: each alternative of a oneOf/anyOf, or itself. */
function shapes(body: DocBody): DocBody[] {
  const alternatives = (body.schema.oneOf ?? body.schema.anyOf) as JsonSchema[] | undefined;
  return alternatives ? alternatives.map((schema) => ({ type: body.type, schema })) : [body];
}

/** The fields of a body, or what it is when it has none (raw bytes). */
function fields(body: DocBody): Html {
  const s = body.schema;
  if (!s.properties) return html`<p class="muted">Body (${body.type}): ${s.format === "binary" ? "the file's bytes" : "JSON"}.</p>`;
  return html`<table class="list"><thead><tr><th>Field <span class="muted">(${body.type})</span></th><th>Type</th><th></th></tr></thead><tbody>${Object.entries(s.properties).map(
    ([name, p]) => html`<tr><td><code>${name}</code></td><td>${String(p.format === "binary" ? "file" : (p.type ?? (p.anyOf ? "one of several" : p.enum ? "enum" : "")))}${Array.isArray(p.enum) ? html` (${p.enum.join(", ")})` : ""}</td><td>${s.required?.includes(name) ? "required" : "optional"}</td></tr>`,
  )}</tbody></table>`;
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
    ${e.bodies.flatMap(shapes).map(fields)}
    <pre>${e.bodies.length ? e.bodies.flatMap(shapes).map((b) => curlExample(origin, e, b)).join("\n") : curlExample(origin, e)}</pre>
  </article>`,
  )}
</section>`,
  );
}
