/**
 * Custom controls (OctoPrint's `controls`): one host-wide definition, the JSON as checked by
 * src/controls/model.ts. One row at most.
 */
export const m015_custom_controls = `
CREATE TABLE custom_controls (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  definition TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`;
