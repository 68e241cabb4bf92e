/**
 * A print resumed after a crash is one print in two (or more) history rows: the interrupted part
 * (closed as failed at the next start) and the resumed part. `resumed_from` names the job the
 * row resumed; `print_chain` the first job of the chain (null: the row is the first), so file
 * statistics count a chain once, with the outcome of its last part. Rows resumed before this
 * migration are linked to the latest interrupted row of the same file on the same printer.
 */
export const m010_resumed_chains = `
ALTER TABLE print_history ADD COLUMN resumed_from TEXT;
ALTER TABLE print_history ADD COLUMN print_chain TEXT;
CREATE INDEX print_history_resumed_from ON print_history (resumed_from);

UPDATE print_history AS r SET resumed_from = (
  SELECT p.job_id FROM print_history AS p
  WHERE p.printer_id = r.printer_id AND p.file = r.file AND p.id < r.id AND p.outcome = 'failed'
    AND p.reason LIKE 'Layerline stopped during this print%'
  ORDER BY p.id DESC LIMIT 1
) WHERE r.resumed = 1;

WITH RECURSIVE chain (job_id, root) AS (
  SELECT job_id, job_id FROM print_history WHERE resumed_from IS NULL
  UNION ALL
  SELECT h.job_id, chain.root FROM print_history AS h JOIN chain ON h.resumed_from = chain.job_id
)
UPDATE print_history SET print_chain = (SELECT root FROM chain WHERE chain.job_id = print_history.job_id) WHERE resumed_from IS NOT NULL;
`;
