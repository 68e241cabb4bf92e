/**
 * The version of this build. `build.ts` defines LAYERLINE_VERSION at compile time; running from
 * source uses package.json's version.
 */
import pkg from "../package.json" with { type: "json" };

declare const LAYERLINE_VERSION: string | undefined;
declare const LAYERLINE_BUILD_TIME: number | undefined;

export const VERSION: string = typeof LAYERLINE_VERSION === "string" ? LAYERLINE_VERSION : pkg.version;

/**
 * A time this machine's clock cannot be before: when `build.ts` made this binary, or from source
 * a date this source is known to be newer than. A clock behind it is wrong (a Raspberry Pi without
 * a clock battery that booted offline), and the diagnosis says so.
 */
export const BUILD_TIME: number = typeof LAYERLINE_BUILD_TIME === "number" ? LAYERLINE_BUILD_TIME : Date.UTC(2026, 10, 1);
