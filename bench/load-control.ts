/**
 * The control of bench/load.ts: a bare Bun server in a process of its own that answers the same
 * clients about as the host does — the printer's state (the host's own JSON) at most 250 times a
 * second, the host's pace while printing, and SSE streams with a status and then a terminal-sized
 * push five times a second — with none of the host's work behind them. What the print loses while
 * it answers is the machine's share of the drop: the clients and any server taking the cores.
 *
 *   bun bench/load-control.ts PORT STATUS_JSON_FILE   (prints "ready" once it listens)
 */
const [port, statusFile] = process.argv.slice(2) as [string, string];
const status = await Bun.file(statusFile).text();
const PACE_MS = 4; // 250 answers a second
const PUSH_MS = 200;
const push = `event: log\ndata: ${"› N1234 G1 X12.345 Y67.890 E0.01234*56 ".repeat(50)}\n\n`;
let next = 0;

Bun.serve({
  port: Number(port),
  hostname: "127.0.0.1",
  idleTimeout: 0,
  fetch(request) {
    if (new URL(request.url).pathname.endsWith("/events")) {
      let timer: ReturnType<typeof setInterval> | undefined;
      const stream = new ReadableStream<string>({
        start(c) {
          c.enqueue(`event: status\ndata: ${status}\n\n${push}`);
          timer = setInterval(() => {
            try {
              c.enqueue(push);
            } catch {
              clearInterval(timer);
            }
          }, PUSH_MS);
        },
        cancel: () => clearInterval(timer),
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    }
    const now = performance.now();
    next = Math.max(next + PACE_MS, now);
    const answer = () => new Response(status, { headers: { "content-type": "application/json" } });
    return next - now < 1 ? answer() : new Promise<Response>((resolve) => setTimeout(() => resolve(answer()), next - now));
  },
});
console.log("ready");
