/**
 * Issue #5: the running job's checkpoint per printer (src/jobs/checkpoints.ts), written about once
 * a second so that a print interrupted by a crash or power cut can be resumed.
 */
export const m007_job_checkpoints = `
CREATE TABLE job_checkpoints (
  printer_id TEXT PRIMARY KEY REFERENCES printers(id) ON DELETE CASCADE,
  job_id TEXT NOT NULL,
  data TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`;
