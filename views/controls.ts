/**
 * Custom controls: Settings → Custom controls (the definition as JSON, its problems in words, an
 * example set to start from) and the controls on a printer's Control panel — buttons that send
 * their G-code, inputs and sliders that fill its parameters, read-outs that follow the printer's
 * replies over the page's stream (`control-<key>` events).
 */
import { commandLines, controlPath, isContainer, readoutKey, type CommandControl, type Control } from "../src/controls/model.ts";
import type { Access } from "../src/server/auth/access.ts";
import { html, type Html } from "./html.ts";
import { layout, settingsNav, type PageSession } from "./layout.ts";

export interface ControlsFormState {
  /** The text in the box: the saved definition, or what was typed. */
  text: string;
  errors: string[];
  outcome?: "saved" | "example";
}

/** The definition as the settings page shows it to edit. */
export const controlsText = (controls: Control[]): string => JSON.stringify(controls, null, 2);

export function controlsSettingsPage(state: ControlsFormState, session?: PageSession): Html {
  return layout(
    "Custom controls",
    html`${settingsNav(session, "/settings/controls")}<div class="settings-page custom-controls">
  <section class="card">
    <h2>Custom controls</h2>
    <p>Buttons, sliders and read-outs on every printer's Control panel, in OctoPrint's format (its <code>controls</code> of <code>config.yaml</code>, written as JSON): containers with <code>name</code>, <code>children</code>, <code>layout</code> (<code>vertical</code>, <code>horizontal</code>, <code>horizontal_grid</code>) and <code>collapsed</code>; commands with <code>name</code>, <code>command</code> or <code>commands</code>, an optional <code>confirm</code> question and <code>input</code> parameters (<code>name</code>, <code>parameter</code>, <code>default</code>, <code>slider</code> {<code>min</code>, <code>max</code>, <code>step</code>}) filled in where the G-code says <code>%(parameter)s</code>; read-outs with a <code>regex</code> on the printer's replies and a <code>template</code> showing its groups (<code>{0}</code>, <code>{1}</code>…). A control sends to the printer of the page it is pressed on, the way typed commands go. OctoPrint apps read them from <code>/api/printer/command/custom</code>.</p>
    ${controlsForm(state)}
  </section>
</div>`,
    html``,
    session,
  );
}

export function controlsForm({ text, errors, outcome }: ControlsFormState): Html {
  const rows = Math.min(30, Math.max(10, text.split("\n").length + 1));
  return html`<form id="controls-form" class="script controls-editor" hx-post="/ui/controls" hx-target="this" hx-swap="outerHTML">
  <textarea name="definition" rows="${rows}" spellcheck="false" aria-label="Custom controls as JSON" data-controls-text>${text}</textarea>
  ${errors.length ? html`<div class="problem" role="alert" data-controls-errors><strong>Not saved:</strong><ul>${errors.map((e) => html`<li>${e}</li>`)}</ul></div>` : ""}
  <div class="buttons">
    <button type="submit" class="primary" data-save>Save</button>
    <button type="button" hx-post="/ui/controls/example" hx-target="#controls-form" hx-swap="outerHTML" hx-confirm="Replace the text in the box with the example set? Nothing is saved until you press Save." data-example>Load example</button>
    ${outcome === "saved" ? html`<span class="saved" role="status">Saved.</span>` : outcome === "example" ? html`<span class="saved" role="status">The example is in the box; press Save to keep it.</span>` : ""}
  </div>
</form>`;
}

/**
 * The custom controls on the Control panel of printer `id`; the buttons only for viewers who may
 * press them. Each button names its control by position and sends the definition's version it was
 * drawn from, so a press from a page older than the last save is refused, not sent to whatever
 * control sits at that position now.
 */
export function customControlsPanel(controls: Control[], version: number | null, id: string, outputs: Record<string, string>, access: Access): Html {
  if (controls.length === 0) return html`<div id="custom-controls" sse-swap="custom-controls" hx-swap="outerHTML"></div>`;
  const press = access.may("POST /ui/printers/:id/controls/run", id);
  return html`<div id="custom-controls" class="custom-controls" sse-swap="custom-controls" hx-swap="outerHTML">${controlList(controls, [], { id, version, outputs, press }, "vertical")}</div>`;
}

interface PanelContext {
  id: string;
  version: number | null;
  outputs: Record<string, string>;
  press: boolean;
}

function controlList(controls: Control[], at: number[], panel: PanelContext, layoutName: string): Html {
  return html`<div class="cc-children cc-${layoutName}">${controls.map((c, i) => controlView(c, [...at, i], panel))}</div>`;
}

function controlView(c: Control, at: number[], panel: PanelContext): Html {
  const { id, outputs, press } = panel;
  if (isContainer(c)) {
    const children = controlList(c.children, at, panel, c.layout ?? "vertical");
    if (!c.name) return children;
    return html`<details class="cc-container" ${c.collapsed ? "" : "open"} data-control="${controlPath(at)}"><summary>${c.name}</summary>${children}</details>`;
  }
  const readout = c.regex !== undefined && c.template !== undefined ? readoutView(c, outputs) : "";
  if (commandLines(c).length === 0) return html`<div class="cc-control" data-control="${controlPath(at)}">${c.name ? html`<span class="cc-label">${c.name}</span> ` : ""}${readout}</div>`;
  if (!press) return html`<div class="cc-control" data-control="${controlPath(at)}">${readout}</div>`;
  return html`<form class="cc-control cc-command" hx-post="/ui/printers/${id}/controls/run" hx-swap="none" ${c.confirm ? html`hx-confirm="${c.confirm}"` : ""} data-control="${controlPath(at)}">
  <input type="hidden" name="path" value="${controlPath(at)}">${panel.version === null ? "" : html`<input type="hidden" name="version" value="${panel.version}">`}
  ${(c.input ?? []).map((p) =>
    p.slider
      ? html`<label class="cc-input">${p.name} <input type="range" name="p.${p.parameter}" min="${p.slider.min}" max="${p.slider.max}" step="${p.slider.step ?? 1}" value="${p.default ?? p.slider.min}" oninput="this.nextElementSibling.value = this.value"><output>${p.default ?? p.slider.min}</output></label>`
      : html`<label class="cc-input">${p.name} <input name="p.${p.parameter}" value="${p.default ?? ""}" size="8" autocomplete="off"></label>`,
  )}
  <button type="submit">${c.name ?? ""}</button>${readout}
</form>`;
}

function readoutView(c: CommandControl, outputs: Record<string, string>): Html {
  const key = readoutKey(c.regex!, c.template!);
  return html`<span class="cc-output" role="status" sse-swap="control-${key}" hx-swap="innerHTML" data-readout="${key}">${outputs[key] ?? ""}</span>`;
}
