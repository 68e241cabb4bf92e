/**
 * Host prompts (protocol.md §5): the firmware builds a dialog with `//action:prompt_begin`,
 * `prompt_button` (or `prompt_choice`), shows it with `prompt_show` and closes it with
 * `prompt_end`; Klipper adds `prompt_text` and `prompt_footer_button`. The user's choice goes back
 * as `M876 S<index>` (0-based, in order of appearance). OctoPrint's rules: a `prompt_begin` while a
 * dialog is showing is ignored, buttons after `prompt_show` are ignored, `prompt_end` closes.
 */

/** A dialog the printer asks the user to answer. */
export interface Prompt {
  text: string;
  buttons: string[];
}

export class PromptTracker {
  private building: Prompt | undefined;
  /** The dialog on show, or null. */
  shown: Prompt | null = null;

  /** Applies one action; returns true when the dialog on show changed. */
  onAction(name: string, params: string): boolean {
    switch (name) {
      case "prompt_end":
        this.building = undefined;
        return this.close();
      case "prompt_begin":
        if (this.shown) return false;
        this.building = { text: params, buttons: [] };
        return false;
      case "prompt_text":
        if (this.building) this.building.text = this.building.text ? `${this.building.text}\n${params}` : params;
        return false;
      case "prompt_button":
      case "prompt_choice":
      case "prompt_footer_button":
        // Klipper's buttons may carry `label|gcode`; the label is what a person reads.
        if (this.building && !this.shown) this.building.buttons.push(params.split("|")[0]!.trim());
        return false;
      case "prompt_show":
        if (!this.building || this.shown) return false;
        this.shown = this.building;
        this.building = undefined;
        return true;
      default:
        return false;
    }
  }

  /** Closes the dialog (answered, or the link went away); true when one was showing. */
  close(): boolean {
    const was = this.shown !== null;
    this.shown = null;
    return was;
  }
}
