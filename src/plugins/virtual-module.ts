/**
 * Makes `import … from "layerline"` resolve to the plugin SDK in this thread. Bun plugins are
 * per thread, so the main thread and every printer Worker call this before loading a plugin.
 * It works the same from source and in the compiled binary.
 */
import * as sdk from "./sdk.ts";

let registered = false;

/** The names a plugin can import from `layerline` at runtime (types aside). */
export const SDK_EXPORTS: readonly string[] = Object.keys(sdk).sort();

/** Registers the virtual module once per thread. */
export function registerLayerlineModule(): void {
  if (registered) return;
  registered = true;
  Bun.plugin({
    name: "layerline plugin API",
    setup(build) {
      build.module("layerline", () => ({ exports: { ...sdk }, loader: "object" }));
    },
  });
}
