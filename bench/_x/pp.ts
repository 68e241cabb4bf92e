// scratch: blocking ping-pong variants. args: TTY FILE timeoutMs write(ffi|fs) where(main|worker)
import { dlopen, FFIType, ptr } from "bun:ffi";
import { closeSync, constants, openSync, readFileSync, writeSync } from "node:fs";
import { clean, frame } from "../../src/protocol/framing.ts";
import { configureTty } from "../../src/transport/termios.ts";
import { isMainThread, workerData, Worker } from "node:worker_threads";
const args = isMainThread ? process.argv.slice(2) : (workerData as string[]);
const [tty, file, timeout, how, where] = args as [string, string, string, string, string];
if (isMainThread && where === "worker") {
  const w = new Worker(new URL(import.meta.url).pathname, { workerData: args });
  await new Promise((r) => w.on("exit", r));
  await Bun.sleep(1000);
  process.exit(0);
}
const commands = readFileSync(file, "latin1").split("\n").map(clean).filter(Boolean);
const lines = commands.map((c, i) => Buffer.from(`${frame(i + 1, c)}\n`, "latin1"));
const fd = openSync(tty, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
configureTty(fd, { baudRate: 115200 });
const { symbols } = dlopen("libc.so.6", {
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
});
const pollFd = new Int32Array([fd, 1]);
const buffer = new Uint8Array(4096);
const to = Number(timeout);
const send = how === "fs" ? (l: Buffer) => writeSync(fd, l) : (l: Buffer) => symbols.write(fd, ptr(l), l.length);
let next = 0;
send(lines[next++]!);
for (let acked = 0; acked < lines.length; ) {
  symbols.poll(ptr(pollFd), 1, to);
  const n = Number(symbols.read(fd, ptr(buffer), buffer.length));
  for (let i = 0; i < n; i++) {
    if (buffer[i] !== 10) continue;
    acked++;
    if (next < lines.length) send(lines[next++]!);
  }
}
closeSync(fd);
if (isMainThread) { await Bun.sleep(1000); process.exit(0); }
