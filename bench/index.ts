/**
 * `bun run bench`: runs every benchmark in turn and prints their figures.
 */
const BENCHMARKS = ["startup.ts", "analyse.ts", "timeleft.ts", "push.ts", "plugin-hooks.ts", "stream.ts", "load.ts"];

for (const name of BENCHMARKS) {
  console.log(`\n== ${name}`);
  const proc = Bun.spawn(["bun", new URL(`./${name}`, import.meta.url).pathname], { stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) {
    console.error(`${name} failed`);
    process.exitCode = 1;
  }
}
