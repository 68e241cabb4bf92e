/** The link statistics people see: lines per second over the last few seconds, resend ratio, ack latency. */
import { expect, test } from "bun:test";
import { newLinkCounters } from "../../src/protocol/engine.ts";
import { LinkStats, percentile } from "../../src/printers/link-stats.ts";

test("lines per second counts the acks of the last five seconds; an idle link falls back to 0", () => {
  const stats = new LinkStats();
  const counters = newLinkCounters();
  const latencies = new Float64Array(8);
  expect(stats.figures(counters, latencies, 0, 0).linesPerSecond).toBe(0);
  // 1,000 lines a second for ten seconds, published every 100 ms.
  for (let t = 100; t <= 10_000; t += 100) {
    counters.acks += 100;
    counters.linesSent += 100;
    stats.figures(counters, latencies, 0, t);
  }
  counters.acks += 100;
  expect(stats.figures(counters, latencies, 0, 10_100).linesPerSecond).toBe(1000);
  // Then it stops: after the window has passed, the rate is what the window saw, 0.
  for (let t = 10_200; t <= 16_000; t += 100) stats.figures(counters, latencies, 0, t);
  expect(stats.figures(counters, latencies, 0, 16_100).linesPerSecond).toBe(0);
  stats.reset();
  expect(stats.figures(counters, latencies, 0, 16_200).linesPerSecond).toBe(0);
});

test("resend ratio and ack latency percentiles", () => {
  const counters = { ...newLinkCounters(), linesSent: 200, linesResent: 5 };
  const latencies = new Float64Array(100);
  for (let i = 0; i < 100; i++) latencies[i] = i + 1; // 1 … 100 ms
  const f = new LinkStats().figures(counters, latencies, 100, 0);
  expect(f.resendRatio).toBe(0.025);
  expect(f.ackLatencyP50Ms).toBe(51);
  expect(f.ackLatencyP99Ms).toBe(100);
  expect(percentile(latencies, 0, 0.5)).toBeNull();
  // The ring holds the latest samples once it came round: all of it counts.
  expect(percentile(latencies, 250, 0.5)).toBe(51);
});
