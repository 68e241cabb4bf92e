/**
 * The running job's latest checkpoint per printer, in sqlite: what `kill -9` or a power cut
 * leaves behind for the next start. Read back through the schema, so a row from an older
 * version (or a torn hand edit) is treated as no checkpoint rather than crashing the start.
 */
import type { Database } from "bun:sqlite";
import * as v from "valibot";
import { CheckpointSchema, type Checkpoint } from "./plan.ts";

export class CheckpointStore {
  constructor(private readonly db: Database) {}

  save(printerId: string, checkpoint: Checkpoint): void {
    this.db
      .query("INSERT INTO job_checkpoints (printer_id, job_id, data, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(printer_id) DO UPDATE SET job_id = excluded.job_id, data = excluded.data, updated_at = excluded.updated_at")
      .run(printerId, checkpoint.jobId, JSON.stringify(checkpoint), checkpoint.at);
  }

  get(printerId: string): Checkpoint | undefined {
    const row = this.db.query("SELECT data FROM job_checkpoints WHERE printer_id = ?").get(printerId) as { data: string } | null;
    if (!row) return undefined;
    try {
      const parsed = v.safeParse(CheckpointSchema, JSON.parse(row.data));
      return parsed.success ? parsed.output : undefined;
    } catch {
      return undefined;
    }
  }

  remove(printerId: string): void {
    this.db.query("DELETE FROM job_checkpoints WHERE printer_id = ?").run(printerId);
  }
}
