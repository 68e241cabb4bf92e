/** Host prompts (protocol.md §5): OctoPrint's rules, and Klipper's dialect. */
import { expect, test } from "bun:test";
import { PromptTracker } from "../../src/printers/prompt.ts";

const run = (p: PromptTracker, ...actions: string[]) =>
  actions.map((a) => {
    const space = a.indexOf(" ");
    return p.onAction(space < 0 ? a : a.slice(0, space), space < 0 ? "" : a.slice(space + 1));
  });

test("begin, buttons, show; a begin while one shows and buttons after show are ignored; end closes", () => {
  const p = new PromptTracker();
  expect(run(p, "prompt_end", "prompt_begin Paused", "prompt_button PurgeMore", "prompt_choice Continue", "prompt_show")).toEqual([false, false, false, false, true]);
  expect(p.shown).toEqual({ text: "Paused", buttons: ["PurgeMore", "Continue"] });
  expect(run(p, "prompt_begin Another", "prompt_button Late", "prompt_show")).toEqual([false, false, false]);
  expect(p.shown).toEqual({ text: "Paused", buttons: ["PurgeMore", "Continue"] });
  expect(run(p, "prompt_end")).toEqual([true]);
  expect(p.shown).toBeNull();
  expect(run(p, "prompt_show")).toEqual([false]); // nothing built
});

test("Klipper: prompt_text adds lines, footer buttons count, `label|gcode` shows the label", () => {
  const p = new PromptTracker();
  run(p, "prompt_begin Filament", "prompt_text Load PLA?", "prompt_text It is hot.", "prompt_button Load|LOAD_FILAMENT", "prompt_footer_button Cancel|CANCEL", "prompt_show");
  expect(p.shown).toEqual({ text: "Filament\nLoad PLA?\nIt is hot.", buttons: ["Load", "Cancel"] });
  expect(p.close()).toBe(true);
  expect(p.close()).toBe(false);
});
