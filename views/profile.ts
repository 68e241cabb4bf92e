/**
 * A printer's profile page: the printer itself (name, bed, heated bed and chamber, extruders) and
 * its machine limits — max feed rates, accelerations, jerk — beside what the firmware reported,
 * with "Use the printer's reported limits" and "Ask the printer again". Each form answers with a
 * fresh copy of itself, with what happened (or what was wrong) inline.
 */
import { AXIS_LIMITS, limitsKey, SCALAR_LIMITS, type MachineLimitsPatch } from "../src/analysis/limits.ts";
import type { PrinterProfile } from "../src/printers/profile.ts";
import type { PrinterRecord } from "../src/printers/record.ts";
import type { Access } from "../src/server/auth/access.ts";
import { html, type Html } from "./html.ts";
import { layout, type PageSession } from "./layout.ts";

/** What a form shows after a request: a sentence that it worked, or what was wrong. */
export type Outcome = { saved: string } | { error: string } | undefined;

export interface LimitsView {
  /** The profile's limits (what the estimates use), and what the firmware reported (null: nothing). */
  limits: MachineLimitsPatch | undefined;
  reported: MachineLimitsPatch | null;
  /** The firmware's quirks profile, when connected (for saying why nothing was reported). */
  firmware: string | null;
  isDefault: boolean;
}

/** The printer's fields by their path in the profile, with their labels on the form. */
const FIELDS = {
  name: "Name",
  model: "Model",
  "volume.width": "Bed width (mm)",
  "volume.depth": "Bed depth (mm)",
  "volume.height": "Height (mm)",
  "volume.formFactor": "Bed shape",
  "volume.origin": "Origin",
  "extruder.count": "Extruders",
  "extruder.nozzleDiameter": "Nozzle (mm)",
  heatedBed: "Heated bed",
  heatedChamber: "Heated chamber",
} as const;

/** A machine limit: what it is, its unit and (where one does) the G-code that sets it. */
type LimitRow = { name: string; unit: string; note?: string };
const AXIS_ROWS: Record<(typeof AXIS_LIMITS)[number], LimitRow> = {
  maxFeedrate: { name: "Max feed rate", unit: "mm/s", note: "M203" },
  maxAcceleration: { name: "Max acceleration", unit: "mm/s²", note: "M201" },
  maxJerk: { name: "Jerk", unit: "mm/s", note: "M205" },
};
const SCALAR_ROWS: Record<(typeof SCALAR_LIMITS)[number], LimitRow> = {
  printAcceleration: { name: "Print acceleration", unit: "mm/s²", note: "M204 P" },
  retractAcceleration: { name: "Retract acceleration", unit: "mm/s²", note: "M204 R" },
  travelAcceleration: { name: "Travel acceleration", unit: "mm/s²", note: "M204 T" },
  maxPrintAcceleration: { name: "Most a file may set for printing", unit: "mm/s²" },
  maxRetractAcceleration: { name: "Most a file may set for retractions", unit: "mm/s²" },
  maxTravelAcceleration: { name: "Most a file may set for travel", unit: "mm/s²" },
  junctionDeviation: { name: "Junction deviation", unit: "mm", note: "M205 J; 0 = jerk" },
  minExtrudingRate: { name: "Min extruding feed rate", unit: "mm/s", note: "M205 S" },
  minTravelRate: { name: "Min travel feed rate", unit: "mm/s", note: "M205 T" },
};
const rowHeading = (r: LimitRow) => `${r.name} (${r.unit})${r.note ? ` · ${r.note}` : ""}`;
const limitLabel = (r: LimitRow, axis?: string) => `${r.name}${axis ? ` ${axis.toUpperCase()}` : ""} (${r.unit})`;

/**
 * A profile field's label as the form shows it, from its path in the profile, for naming it in
 * a problem; an unknown path is returned as it is.
 * Example: `fieldLabel("volume.width")` → "Bed width (mm)"; `fieldLabel("limits.maxJerk.x")` → "Jerk X (mm/s)".
 */
export function fieldLabel(path: string): string {
  if (path in FIELDS) return FIELDS[path as keyof typeof FIELDS];
  const [top, key, axis] = path.split(".");
  if (top !== "limits" || !key) return path;
  if (key in AXIS_ROWS) return limitLabel(AXIS_ROWS[key as keyof typeof AXIS_ROWS], axis);
  if (key in SCALAR_ROWS && !axis) return limitLabel(SCALAR_ROWS[key as keyof typeof SCALAR_ROWS]);
  return path;
}

export function profilePage(printer: PrinterRecord, profile: PrinterProfile, limits: LimitsView, access: Access, session?: PageSession): Html {
  return layout(
    `Profile · ${printer.name}`,
    html`<div class="settings-page profile-page">
  <section class="card">
    <h1>Printer profile <span class="muted">· ${printer.name}</span></h1>
    <p><a href="/?printer=${printer.id}">← Back to the dashboard</a> · <a href="/settings/printers/${printer.id}/scripts">G-code scripts</a></p>
  </section>
  ${profileForm(printer.id, profile, access)}
  ${limitsForm(printer.id, limits, access)}
</div>`,
    html``,
    session,
  );
}

/** Fields a viewer may read but not change: shown disabled. */
const readOnly = (fields: Html, editable: boolean) => (editable ? fields : html`<fieldset class="bare" disabled>${fields}</fieldset>`);

/** The printer's bed, heaters and extruders (what slicers and apps read through the OctoPrint API). */
export function profileForm(printerId: string, p: PrinterProfile, access: Access, outcome?: Outcome): Html {
  const save = access.may("POST /ui/printers/:id/profile", printerId);
  const number = (name: string, label: string, value: number, attrs: string) =>
    html`<label>${label} <input type="number" name="${name}" value="${value}" ${attrs}></label>`;
  const option = (value: string, label: string, current: string) => html`<option value="${value}" ${value === current ? "selected" : ""}>${label}</option>`;
  return html`<form class="card profile" id="profile-form" ${save ? html`hx-post="/ui/printers/${printerId}/profile" hx-target="this" hx-swap="outerHTML"` : ""}>
  <h2>Printer</h2>
  ${readOnly(html`<div class="fields">
    <label>${FIELDS.name} <input type="text" name="name" value="${p.name}" maxlength="80" required></label>
    <label>${FIELDS.model} <input type="text" name="model" value="${p.model}" maxlength="80"></label>
    ${number("width", FIELDS["volume.width"], p.volume.width, 'min="1" step="any" required')}
    ${number("depth", FIELDS["volume.depth"], p.volume.depth, 'min="1" step="any" required')}
    ${number("height", FIELDS["volume.height"], p.volume.height, 'min="1" step="any" required')}
    <label>${FIELDS["volume.formFactor"]} <select name="formFactor">${option("rectangular", "rectangular", p.volume.formFactor)}${option("circular", "circular", p.volume.formFactor)}</select></label>
    <label>${FIELDS["volume.origin"]} <select name="origin">${option("lowerleft", "front left corner", p.volume.origin)}${option("center", "centre of the bed", p.volume.origin)}</select></label>
    ${number("count", FIELDS["extruder.count"], p.extruder.count, 'min="1" max="10" step="1" required')}
    ${number("nozzleDiameter", FIELDS["extruder.nozzleDiameter"], p.extruder.nozzleDiameter, 'min="0.05" max="5" step="any" required')}
    <label class="check"><input type="checkbox" name="heatedBed" ${p.heatedBed ? "checked" : ""}> ${FIELDS.heatedBed}</label>
    <label class="check"><input type="checkbox" name="heatedChamber" ${p.heatedChamber ? "checked" : ""}> ${FIELDS.heatedChamber}</label>
  </div>`, save)}
  ${outcomeLine(outcome)}
  ${save ? html`<div class="buttons"><button type="submit" class="primary">Save</button></div>` : ""}
</form>`;
}

/** The machine limits: a field per limit (empty = not set), the firmware's report beside it. */
export function limitsForm(printerId: string, view: LimitsView, access: Access, outcome?: Outcome): Html {
  const { limits, reported } = view;
  const may = (route: string) => access.may(route, printerId);
  const save = may("POST /ui/printers/:id/profile/limits");
  const same = reported !== null && limitsKey(limits) === limitsKey(reported);
  const cell = (name: string, label: string, value: number | undefined, said: number | undefined) => {
    const differs = said !== undefined && value !== undefined && said !== value;
    return html`<td><input type="number" name="${name}" min="0" step="any" value="${value ?? ""}" placeholder="${said ?? ""}" aria-label="${label}"${differs ? html` class="differs" title="The printer reported ${said}"` : ""}></td>`;
  };
  return html`<form class="card limits" id="limits-form" ${save ? html`hx-post="/ui/printers/${printerId}/profile/limits" hx-target="this" hx-swap="outerHTML"` : ""}>
  <h2>Machine limits ${same ? html`<span class="badge limits-reported">as the printer reported</span>` : ""}</h2>
  <p>How fast this printer may move and accelerate. Time estimates plan each print with them wherever the file does
  not set its own (a file's M201/M203/M204/M205 lines still apply from where they are); an empty field falls back to
  the slicer's settings in the file, then to Marlin's defaults.
  ${view.isDefault ? "This is the default printer: the files page's estimates are planned with its limits." : "Files are planned with the default printer's limits; a print on this printer is re-planned with these."}</p>
  <p class="muted reported">${reportedLine(view)}</p>
  ${readOnly(html`<table class="limits-table">
    <thead><tr><th></th><th>X</th><th>Y</th><th>Z</th><th>E</th></tr></thead>
    <tbody>
    ${AXIS_LIMITS.map((key) => html`<tr><th>${rowHeading(AXIS_ROWS[key])}</th>${(["x", "y", "z", "e"] as const).map((a) => cell(`${key}.${a}`, limitLabel(AXIS_ROWS[key], a), limits?.[key]?.[a], reported?.[key]?.[a]))}</tr>`)}
    </tbody>
  </table>
  <table class="limits-table">
    <tbody>
    ${SCALAR_LIMITS.map((key) => html`<tr><th>${rowHeading(SCALAR_ROWS[key])}</th>${cell(key, limitLabel(SCALAR_ROWS[key]), limits?.[key], reported?.[key] ?? undefined)}</tr>`)}
    </tbody>
  </table>`, save)}
  ${outcomeLine(outcome)}
  <div class="buttons">
    ${save ? html`<button type="submit" class="primary">Save limits</button>` : ""}
    ${may("POST /ui/printers/:id/profile/limits/from-printer") ? html`<button type="button" ${reported ? "" : "disabled"} hx-post="/ui/printers/${printerId}/profile/limits/from-printer">Use the printer's reported limits</button>` : ""}
    ${may("POST /ui/printers/:id/limits/query") ? html`<button type="button" hx-post="/ui/printers/${printerId}/limits/query">Ask the printer again</button>` : ""}
    ${may("POST /ui/printers/:id/profile/limits/clear") ? html`<button type="button" ${limits ? "" : "disabled"} hx-post="/ui/printers/${printerId}/profile/limits/clear" hx-confirm="Remove this printer's machine limits? Estimates then use the file's and Marlin's defaults, until the printer reports its own again (when it connects).">Clear</button>` : ""}
  </div>
</form>`;
}

function reportedLine(view: LimitsView): string {
  if (view.reported) return "The grey values in empty fields are what the printer's firmware reported (M503) on connecting.";
  if (view.firmware === null) return "The printer has not reported its limits: connect it, and a Marlin-based firmware reports them by itself.";
  return `The printer's firmware (profile ${view.firmware}) has not reported its limits; firmware that does not report them (Klipper, RepRapFirmware…) needs them entered here.`;
}

/** What happened to a form's request, as a line under it (views/camera.ts and timelapse.ts too). */
export function outcomeLine(outcome: Outcome): Html | string {
  if (!outcome) return "";
  return "error" in outcome ? html`<p class="error" role="alert">${outcome.error}</p>` : html`<p class="saved">${outcome.saved}</p>`;
}
