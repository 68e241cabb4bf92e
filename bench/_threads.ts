// scratch: per-thread CPU of a print, with browser-paced load constantly on (or off)
import { readdirSync, readFileSync } from "node:fs";
import { benchFile, buildPeer, commandLines, printUploaded, ptyPair, scratch, startHost, startPeer, uploadFile } from "./serial-bench.ts";
const bin = process.argv[2]!;
const withLoad = process.argv[3] === "load";
const dir = scratch();
const peer = buildPeer(dir);
const file = await benchFile(10);
const pty = await ptyPair();
let p = startPeer(peer, pty.device);
const host = await startHost(bin, dir, pty.host);
await host.waitFor(`/api/v1/printers/${host.printer}`, (x: any) => x.state === "operational" && x.firmware !== null);
function threads(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      const key = t === String(pid) ? "main" : comm;
      m.set(key, (m.get(key) ?? 0) + ns);
    } catch {}
  }
  return m;
}
await uploadFile(host, "t.gcode", file, true);
await printUploaded(host, "t.gcode");
let proc: any;
if (withLoad) {
  proc = Bun.spawn(["nice", "-n", "19", process.execPath, new URL("./load-clients.ts", import.meta.url).pathname, host.url, host.key, host.printer, "500"], { stdout: "pipe", stderr: "inherit" });
  const out = proc.stdout.getReader();
  await out.read();
  proc.kill("SIGUSR2");
  await Bun.sleep(300);
}
for (let i = 0; i < 2; i++) {
  await p.stop(); p = startPeer(peer, pty.device); await Bun.sleep(200);
  const perf = process.env.PERF && i === 1 ? Bun.spawn(process.env.PERF === "strace" ? ["strace", "-c", "-f", "-o", "/tmp/lead/strace.txt", "-p", String(host.pid)] : ["perf", "record", "-F", "5000", "-o", "/tmp/lead/perf.data", "-p", String(host.pid)], { stdout: "ignore", stderr: "ignore" }) : undefined;
  if (perf) await Bun.sleep(500);
  const a = threads(host.pid);
  const t0 = performance.now();
  await printUploaded(host, "t.gcode");
  const s = (performance.now() - t0) / 1000;
  const b = threads(host.pid);
  if (perf) { perf.kill("SIGINT"); await perf.exited; }
  const rows = [...b].map(([k, v]) => [k, (v - (a.get(k) ?? 0)) / 1e9] as const).filter(([, v]) => v > 0.002).sort((x, y) => y[1] - x[1]);
  console.log(`${withLoad ? "load" : "idle"} ${s.toFixed(2)}s ${(commandLines(file) / s).toFixed(0)} l/s  ` + rows.map(([k, v]) => `${k}=${v.toFixed(3)}`).join(" "));
}
if (proc) proc.kill("SIGTERM");
await host.stop(); await p.stop(); await pty.close();
