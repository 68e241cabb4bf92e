/**
 * Marlin's emergency parser (feature/e_parser.h), which watches the raw serial bytes so that
 * M108, M112, M410, M524 and M876 act even while the command queue is full or a command is blocking.
 * Marlin runs it per byte and acts at the end of the line; running it once per completed line
 * gives the same verdicts.
 */

/** The commands the emergency parser acts on. */
export type EmergencyCommand = "M108" | "M112" | "M410" | "M524" | "M876";

/**
 * Recognises `[N<digits> ]M108|M112|M410|M524|M876…` (anything may follow, as in Marlin's state machine).
 * Example: `emergencyCommand("N61 M112*22") === "M112"`; `emergencyCommand("G1 X1")` is undefined.
 */
export function emergencyCommand(line: string): EmergencyCommand | undefined {
  let i = 0;
  const len = line.length;
  while (i < len && line.charCodeAt(i) === 32) i++;
  if (line.charCodeAt(i) === 78 /* N */) {
    i++;
    for (; i < len; i++) {
      const c = line.charCodeAt(i);
      if (!((c >= 48 && c <= 57) || c === 45 /* - */ || c === 32)) break;
    }
  }
  if (line.charCodeAt(i) !== 77 /* M */) return undefined;
  i++;
  while (i < len && line.charCodeAt(i) === 32) i++;
  const code = line.slice(i, i + 3);
  return code === "108" || code === "112" || code === "410" || code === "524" || code === "876" ? (`M${code}` as EmergencyCommand) : undefined;
}
