/**
 * The native API described from the routes themselves: `/api/v1/openapi.json` (OpenAPI 3.1, the
 * body schemas converted from the routes' valibot schemas, each operation's permission from the
 * guard's table) and `/api/v1/docs`, the same for people, with curl examples.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import { Elysia, type DocumentDecoration } from "elysia";
import type * as v from "valibot";
import { apiDocsPage, type DocBody, type DocEndpoint, type JsonSchema } from "../../../views/api-docs.ts";
import { perMethod, requirementFor } from "../auth/route-permissions.ts";
import type { AppContext } from "../context.ts";
import { ENDPOINTS } from "./version.ts";
import { pathPrefix, publicBase } from "../path-prefix.ts";

export interface RouteInfo {
  method: string;
  path: string;
  hooks?: { body?: unknown; type?: unknown; detail?: unknown };
}

const BINARY = { type: "string", format: "binary" } as const;

/** A valibot schema as JSON Schema; an optional body documents what it holds when sent. */
function jsonSchema(schema: v.GenericSchema): JsonSchema {
  const inner = schema.type === "optional" ? (schema as unknown as { wrapped: v.GenericSchema }).wrapped : schema;
  const out = toJsonSchema(inner, { errorMode: "ignore" }) as JsonSchema;
  delete out.$schema;
  // Files (v.instance(File)) have no JSON Schema; in multipart they are binary strings.
  for (const prop of Object.values(out.properties ?? {})) if (Object.keys(prop).length === 0) Object.assign(prop, BINARY);
  return out;
}

/**
 * The `detail` of a route that reads its body itself (a streamed upload, `parse: "none"`), so
 * Elysia validates nothing: documents the body per content type ("binary" = raw bytes).
 */
export function documentedBody(content: Record<string, v.GenericSchema | "binary">): DocumentDecoration {
  return {
    requestBody: {
      required: true,
      content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema: schema === "binary" ? BINARY : jsonSchema(schema) }])),
    },
  };
}

/**
 * The `detail` of a route that documents its answer: the valibot schema of its JSON (the same
 * schema the answer is made to fit), or "binary" for a download of `type`.
 */
export function documentedResponse(content: Record<string, v.GenericSchema | "binary">): DocumentDecoration {
  return {
    responses: {
      "200": {
        description: "Success",
        content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema: schema === "binary" ? BINARY : jsonSchema(schema) }])),
      },
    },
  };
}

/** A route's documented answer, if it documents one. */
function responseOf(route: RouteInfo): DocBody[] | undefined {
  const ok = (route.hooks?.detail as DocumentDecoration | undefined)?.responses?.["200"];
  if (!ok || !("content" in ok) || !ok.content) return undefined;
  return Object.entries(ok.content).map(([type, media]) => ({ type, schema: (media as { schema: JsonSchema }).schema }));
}

/** A route's bodies: the valibot schema Elysia validates it with, or the documented ones. */
function bodiesOf(route: RouteInfo): DocBody[] {
  const documented = (route.hooks?.detail as DocumentDecoration | undefined)?.requestBody;
  if (documented && "content" in documented) {
    return Object.entries(documented.content).map(([type, media]) => ({ type, schema: media.schema as JsonSchema }));
  }
  const body = route.hooks?.body as { kind?: string } | undefined;
  if (!body || body.kind !== "schema") return [];
  return [{ type: route.hooks?.type === "multipart/form-data" ? "multipart/form-data" : "application/json", schema: jsonSchema(body as v.GenericSchema) }];
}

/** Every native endpoint with its description, permission and body. */
export function describeEndpoints(routes: RouteInfo[]): DocEndpoint[] {
  const text = new Map(ENDPOINTS.map(([m, p, d]) => [`${m} ${p}`, d]));
  return perMethod(routes)
    .filter((r) => r.method !== "WS" && (r.path === "/api/v1" || r.path.startsWith("/api/v1/")))
    .map((r) => {
      const path = r.path.length > 1 ? r.path.replace(/\/$/, "") : r.path;
      const req = requirementFor(r.method, r.path);
      return {
        method: r.method,
        path,
        description: text.get(`${r.method} ${path}`) ?? text.get(`* ${path}`) ?? "",
        permission: "public" in req ? null : req.permission,
        bodies: bodiesOf(r),
        response: responseOf(r),
      };
    })
    .sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

const ERROR = {
  type: "object",
  properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" }, hint: { type: "string" } }, required: ["code", "message", "hint"] } },
  required: ["error"],
};

/** `prefix`: the path Layerline is served under behind a proxy ("" at the root), the paths' server. */
export function openApiDocument(version: string, endpoints: DocEndpoint[], prefix = "") {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of endpoints) {
    const path = e.path.replace(/:(\w+)/g, "{$1}").replace("*", "{path}");
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    (paths[path] ??= {})[e.method.toLowerCase()] = {
      summary: e.description || `${e.method} ${e.path}`,
      ...(params.length ? { parameters: params } : {}),
      ...(e.permission ? { security: [{ apiKey: [] }, { bearer: [] }], "x-permission": e.permission } : { security: [] }),
      ...(e.bodies.length ? { requestBody: { required: true, content: Object.fromEntries(e.bodies.map((b) => [b.type, { schema: b.schema }])) } } : {}),
      responses: {
        ...(e.response ? { "200": { description: "Success", content: Object.fromEntries(e.response.map((b) => [b.type, { schema: b.schema }])) } } : { "2XX": { description: "Success" } }),
        "4XX": { description: "A problem with the request, in words, with a hint", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Layerline native API",
      version,
      description: "The primary API of Layerline. Authenticate with an API key (X-Api-Key, Authorization: Bearer, or ?apikey=). An OctoPrint-compatible API is served at /api/… as well.",
    },
    servers: [{ url: prefix || "/" }],
    components: {
      securitySchemes: {
        apiKey: { type: "apiKey", in: "header", name: "X-Api-Key" },
        bearer: { type: "http", scheme: "bearer" },
      },
      schemas: { Error: ERROR },
    },
    paths,
  };
}

export function apiDocs(ctx: AppContext, routes: () => RouteInfo[]) {
  let cached: DocEndpoint[] | undefined;
  const endpoints = () => (cached ??= describeEndpoints(routes()));
  return new Elysia()
    .get("/api/v1/openapi.json", ({ request }) => openApiDocument(ctx.version, endpoints(), pathPrefix(request)))
    .get("/api/v1/docs", ({ request }) => new Response(apiDocsPage(publicBase(request), endpoints()).value, { headers: { "content-type": "text/html; charset=utf-8" } }));
}
