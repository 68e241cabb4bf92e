/**
 * The version of this build. `build.ts` defines LAYERLINE_VERSION at compile time; running from
 * source uses package.json's version.
 */
import pkg from "../package.json" with { type: "json" };

declare const LAYERLINE_VERSION: string | undefined;

export const VERSION: string = typeof LAYERLINE_VERSION === "string" ? LAYERLINE_VERSION : pkg.version;
