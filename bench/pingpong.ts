/**
 * The floor of bench/stream.ts: a bare one-line-in-flight host in Bun that does nothing but the
 * serial I/O — the file's lines framed (N…*checksum) before the first is sent, then for every
 * newline received the next line written. No protocol engine, no job, no recorder, no server.
 *
 *   bun bench/pingpong.ts TTY FILE stream   Bun's event loop: Bun.file(fd).stream() reads,
 *                                           fs.writeSync writes (what the host's transport does)
 *   bun bench/pingpong.ts TTY FILE blocking poll(2)/read(2)/write(2) through bun:ffi in one loop,
 *                                           no event loop at all (what the kernel's pty costs)
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { closeSync, constants, openSync, readFileSync, writeSync } from "node:fs";
import { clean, frame } from "../src/protocol/framing.ts";
import { configureTty } from "../src/transport/termios.ts";

const [tty, file, mode] = process.argv.slice(2) as [string, string, "stream" | "blocking"];
const commands = readFileSync(file, "latin1").split("\n").map(clean).filter(Boolean);
const lines = commands.map((c, i) => Buffer.from(`${frame(i + 1, c)}\n`, "latin1"));
const fd = openSync(tty, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
configureTty(fd, { baudRate: 115200 });

let next = 0;
if (mode === "blocking") {
  const { symbols } = dlopen("libc.so.6", {
    poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  });
  const pollFd = new Int32Array([fd, 1 /* POLLIN */]);
  const buffer = new Uint8Array(4096);
  const send = (line: Buffer) => symbols.write(fd, ptr(line), line.length);
  send(lines[next++]!);
  for (let acked = 0; acked < lines.length; ) {
    symbols.poll(ptr(pollFd), 1, 5000);
    const n = Number(symbols.read(fd, ptr(buffer), buffer.length));
    for (let i = 0; i < n; i++) {
      if (buffer[i] !== 10) continue;
      acked++;
      if (next < lines.length) send(lines[next++]!);
    }
  }
} else {
  writeSync(fd, lines[next++]!);
  const reader = Bun.file(fd).stream().getReader();
  for (let acked = 0; acked < lines.length; ) {
    const { value, done } = await reader.read();
    if (done) break;
    for (let i = 0; i < value.length; i++) {
      if (value[i] !== 10) continue;
      acked++;
      if (next < lines.length) writeSync(fd, lines[next++]!);
    }
  }
  await reader.cancel();
}
closeSync(fd);
// The benchmark reads this process's CPU time when the peer reports the last line: still be there.
await Bun.sleep(1000);
process.exit(0);
