/**
 * The browser's static files, embedded in the binary: each is imported `with { type: "file" }`,
 * which gives a real path in development and an embedded one in the compiled executable.
 * (@elysiajs/static serves a folder on disk, which the single binary does not have.)
 */
import { Elysia } from "elysia";
import htmx from "../../node_modules/htmx.org/dist/htmx.min.js" with { type: "file" };
import htmxSse from "../../node_modules/htmx-ext-sse/dist/sse.min.js" with { type: "file" };
import appJs from "../../public/app.js" with { type: "file" };
import styleCss from "../../public/style.css" with { type: "file" };
import favicon from "../../public/favicon.svg" with { type: "file" };
import { VERSION } from "../version.ts";

const ASSETS: Record<string, { path: string; type: string }> = {
  "htmx.min.js": { path: htmx, type: "text/javascript; charset=utf-8" },
  "htmx-sse.js": { path: htmxSse, type: "text/javascript; charset=utf-8" },
  "app.js": { path: appJs, type: "text/javascript; charset=utf-8" },
  "style.css": { path: styleCss, type: "text/css; charset=utf-8" },
  "favicon.svg": { path: favicon, type: "image/svg+xml" },
};

/** The URL of an asset, versioned so browsers may cache it forever. */
export function assetUrl(name: keyof typeof ASSETS & string): string {
  return `/public/${name}?v=${VERSION}`;
}

export const assets = new Elysia({ name: "assets" })
  .get("/public/:name", ({ params, query, set }) => {
    const asset = ASSETS[params.name];
    if (!asset) {
      set.status = 404;
      return "not found";
    }
    const cache = query.v === VERSION ? "public, max-age=31536000, immutable" : "no-cache";
    return new Response(Bun.file(asset.path), { headers: { "content-type": asset.type, "cache-control": cache } });
  })
  .get("/favicon.ico", () => new Response(Bun.file(favicon), { headers: { "content-type": "image/svg+xml" } }));
