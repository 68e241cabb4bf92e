/**
 * Server-Sent Events responses. A slow client never grows memory without bound: events are
 * snapshots or chatty logs, so when the client's buffer is full new ones are dropped, and the
 * next snapshot catches it up.
 */

/**
 * Sends one event; returns whether it went out (false when the stream is closed or the client
 * is behind), so a fragment sent only when it changes can be tried again with the next status.
 */
export type SendEvent = (event: string, data: string) => boolean;

const KEEPALIVE_MS = 15_000;
const HIGH_WATER = 256 * 1024;
const encoder = new TextEncoder();

// The last frames built: every listener of an event is sent the same (shared) text, so it is
// framed and encoded once, not once per client. Bounded; a miss just builds it again.
const frames = new Map<string, { event: string; bytes: Uint8Array }>();
const FRAMES_KEPT = 32;

/** `event: …` and one `data:` line per line of the payload, encoded. */
function frame(event: string, data: string): Uint8Array {
  const hit = frames.get(data);
  if (hit && hit.event === event) return hit.bytes;
  // Each line of the payload needs its own `data:` prefix.
  const body = data.includes("\n") ? data.split("\n").map((l) => `data: ${l}`).join("\n") : `data: ${data}`;
  const bytes = encoder.encode(`event: ${event}\n${body}\n\n`);
  if (frames.size >= FRAMES_KEPT) frames.clear();
  frames.set(data, { event, bytes });
  return bytes;
}

/**
 * Builds an SSE response. `open` gets a send function and returns the unsubscribe function,
 * called when the client goes away. `rewrite` changes each payload before it goes out (a page's
 * HTML fragments get the path prefix, src/server/path-prefix.ts).
 */
export function sseResponse(open: (send: SendEvent) => () => void, rewrite?: (data: string) => string): Response {
  let close: (() => void) | undefined;
  let keepalive: ReturnType<typeof setInterval> | undefined;
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let closed = false;
        const send: SendEvent = (event, data) => {
          if (closed) return false;
          if ((controller.desiredSize ?? 1) <= 0) return false; // client is behind: skip this one
          try {
            controller.enqueue(frame(event, rewrite ? rewrite(data) : data));
          } catch {
            closed = true;
          }
          return !closed;
        };
        controller.enqueue(encoder.encode(": connected\nretry: 2000\n\n"));
        close = open(send);
        keepalive = setInterval(() => {
          try {
            controller.enqueue(encoder.encode(": keep-alive\n\n"));
          } catch {
            closed = true;
          }
        }, KEEPALIVE_MS);
      },
      cancel() {
        if (keepalive) clearInterval(keepalive);
        close?.();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER }),
  );
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    },
  });
}
