/**
 * Bundled plugin (and example): events + a settings form + a settings-section fragment + a route.
 * When a print ends (or pauses), it posts a message to the configured web address in the chosen
 * format, and keeps the last deliveries so the user can see whether they arrive.
 */
import { definePlugin, html, v, type PluginContext, type PluginEvents } from "layerline";

const settings = v.object({
  url: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((s) => s === "" || (/^https?:\/\//.test(s) && URL.canParse(s)), "must be an http(s) address"),
      v.title("Webhook address"),
      v.description("Where to post, e.g. a Discord or Slack webhook, https://ntfy.sh/<topic>, or your own endpoint. Empty = off."),
      v.metadata({ input: "url" }),
    ),
    "",
  ),
  format: v.optional(
    v.pipe(
      v.picklist(["json", "discord", "slack", "ntfy"]),
      v.title("Message format"),
      v.description("json: {event, printer, file, reason, printTime}; discord and slack: their webhook message; ntfy: a plain-text notification."),
    ),
    "json",
  ),
  onDone: v.optional(v.pipe(v.boolean(), v.title("When a print finishes")), true),
  onFailed: v.optional(v.pipe(v.boolean(), v.title("When a print fails")), true),
  onCancelled: v.optional(v.pipe(v.boolean(), v.title("When a print is cancelled")), false),
  onPaused: v.optional(v.pipe(v.boolean(), v.title("When a print pauses (e.g. for a filament change)")), false),
  secret: v.optional(
    v.pipe(v.string(), v.title("Secret"), v.description("Sent as the X-Layerline-Secret header, so the receiver can tell the message is yours."), v.metadata({ input: "password" })),
    "",
  ),
});
type Settings = v.InferOutput<typeof settings>;
type JobEvent = PluginEvents["job"];

interface Delivery {
  at: number;
  what: string;
  /** HTTP status, or 0 when the request failed. */
  status: number;
  error: string | null;
}

const WANTED: Partial<Record<JobEvent["state"], keyof Settings>> = { done: "onDone", failed: "onFailed", cancelled: "onCancelled", paused: "onPaused" };
const VERB: Record<JobEvent["state"], string> = { started: "started", paused: "paused", resumed: "resumed", done: "finished", failed: "failed", cancelled: "was cancelled" };
const ICON: Record<JobEvent["state"], string> = { started: "▶", paused: "⏸", resumed: "▶", done: "✅", failed: "❌", cancelled: "⏹" };
const KEEP = 10;

/** The request for one event in the chosen format. */
export function message(s: Settings, e: JobEvent, printerName: string, printTime: number | null): { body: string; headers: Record<string, string> } {
  const time = printTime === null ? "" : ` after ${duration(printTime)}`;
  const text = `${ICON[e.state]} ${e.file} ${VERB[e.state]} on ${printerName}${time}${e.reason ? ` (${e.reason})` : ""}`;
  const headers: Record<string, string> = s.secret ? { "x-layerline-secret": s.secret } : {};
  switch (s.format) {
    case "discord":
      return { body: JSON.stringify({ content: text }), headers: { ...headers, "content-type": "application/json" } };
    case "slack":
      return { body: JSON.stringify({ text }), headers: { ...headers, "content-type": "application/json" } };
    case "ntfy":
      return { body: text, headers: { ...headers, "content-type": "text/plain; charset=utf-8", title: `Print ${VERB[e.state]}`, tags: e.state === "done" ? "white_check_mark" : e.state === "failed" ? "x" : "printer" } };
    default:
      return {
        body: JSON.stringify({ event: `print.${e.state}`, printer: { id: e.printer, name: printerName }, file: e.file, reason: e.reason, printTime, text }),
        headers: { ...headers, "content-type": "application/json" },
      };
  }
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

function deliveryList(deliveries: Delivery[]) {
  if (deliveries.length === 0) return html`<p class="muted">Nothing sent yet.</p>`;
  return html`<table class="webhook-deliveries"><thead><tr><th>When</th><th>What</th><th>Result</th></tr></thead><tbody>
${deliveries.map((d) => html`<tr data-status="${d.status}"><td>${new Date(d.at).toLocaleString()}</td><td>${d.what}</td><td>${d.error ? html`<span class="error">${d.error}</span>` : `HTTP ${d.status}`}</td></tr>`)}
</tbody></table>`;
}

export default definePlugin({
  settings,
  setup(ctx: PluginContext<Settings>) {
    const deliveries = (): Delivery[] => ctx.storage.get<Delivery[]>("deliveries") ?? [];

    const deliver = async (e: JobEvent): Promise<Delivery> => {
      const s = ctx.settings.get();
      const printer = ctx.printers.get(e.printer);
      const { body, headers } = message(s, e, printer?.name ?? e.printer, printer?.progress?.printTime ?? null);
      const what = `${e.file} ${VERB[e.state]}`;
      let delivery: Delivery;
      try {
        const res = await fetch(s.url, { method: "POST", body, headers, signal: AbortSignal.timeout(10_000) });
        delivery = { at: Date.now(), what, status: res.status, error: res.ok ? null : `HTTP ${res.status} ${res.statusText}` };
        await res.body?.cancel();
      } catch (err) {
        delivery = { at: Date.now(), what, status: 0, error: (err as Error).message };
      }
      ctx.storage.set("deliveries", [delivery, ...deliveries()].slice(0, KEEP));
      if (delivery.error) ctx.log.warn(`could not deliver "${what}" to ${s.url}: ${delivery.error}`);
      return delivery;
    };

    ctx.on("job", (e) => {
      const s = ctx.settings.get();
      const flag = WANTED[e.state];
      // Delivery may take seconds: do not hold up the event (handlers have a 2 s budget).
      if (s.url && flag && s[flag]) void deliver(e);
    });

    ctx.route("POST", "/test", async () => {
      if (!ctx.settings.get().url) return html`<p class="error">Set a webhook address first.</p>${deliveryList(deliveries())}`;
      const printer = ctx.printers.list()[0];
      await deliver({ printer: printer?.id ?? "test", file: "test-message.gcode", state: "done", reason: null });
      return deliveryList(deliveries());
    });
    ctx.route("GET", "/deliveries", () => ({ deliveries: deliveries() }));

    ctx.slot(
      "settings.section",
      ({ viewer }) => html`<h3>Deliveries</h3>
${viewer.may("POST") ? html`<button type="button" hx-post="/api/v1/plugins/webhook-notifier/test" hx-target="#webhook-deliveries">Send a test message</button>` : ""}
<div id="webhook-deliveries">${deliveryList(deliveries())}</div>`,
    );
  },
});
