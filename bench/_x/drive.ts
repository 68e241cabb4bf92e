import { writeFileSync } from "node:fs";
import { benchFile, buildPeer, commandLines, cpuSeconds, ptyPair, scratch, startPeer } from "../serial-bench.ts";
const dir = scratch();
const peer = buildPeer(dir);
const text = await benchFile(1);
writeFileSync(`${dir}/f.gcode`, text);
const variants = process.argv.slice(2).map((v) => v.split(","));
const results = new Map<string, number[]>();
for (let rep = 0; rep < Number(process.env.REPS ?? 3); rep++)
  for (const v of variants) {
    const pty = await ptyPair();
    let a = 0, b = 0;
    const proc = Bun.spawn([process.execPath, new URL("./pp.ts", import.meta.url).pathname, pty.host, `${dir}/f.gcode`, ...v], { stdout: "ignore", stderr: "inherit" });
    const p = startPeer(peer, pty.device, (k) => { if (k === "start") a = cpuSeconds(proc.pid); else b = cpuSeconds(proc.pid); });
    const [s, e] = await Promise.all([p.started, p.ended]);
    await proc.exited; await p.stop(); await pty.close();
    const per10k = ((b - a) / (e.lines - s.lines)) * 1e4;
    (results.get(v.join(",")) ?? results.set(v.join(","), []).get(v.join(","))!).push(per10k);
  }
for (const [k, xs] of results) console.log(k.padEnd(24), xs.map((x) => x.toFixed(3)).join(" "));
