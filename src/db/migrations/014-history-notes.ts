/**
 * What happened to a print along the way without ending it (the printer's thread restarted under
 * it and the print went on), in words, on its history row.
 */
export const m014_history_notes = `
ALTER TABLE print_history ADD COLUMN notes TEXT;
`;
