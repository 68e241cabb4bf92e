/**
 * Issue #3: lines in flight per printer (1 = one line at a time; more needs a firmware that
 * reports its buffers with ADVANCED_OK). 4 matches Marlin's default command buffer.
 */
export const m005_send_window = `
ALTER TABLE printers ADD COLUMN send_window INTEGER NOT NULL DEFAULT 4 CHECK (send_window BETWEEN 1 AND 32);
`;
