/**
 * Numbered migrations: entry i is migration i+1. Append only; never edit one that has shipped.
 */
import { m001_initial } from "./001-initial.ts";
import { m002_file_analysis } from "./002-issue4-file-analysis.ts";
import { m003_plugins } from "./003-issue7-plugins.ts";
import { m004_accounts } from "./004-issue6-accounts.ts";
import { m005_send_window } from "./005-issue3-send-window.ts";
import { m006_history_queue } from "./006-issue5-history-queue.ts";
import { m007_job_checkpoints } from "./007-issue5-job-checkpoints.ts";
import { m008_profile_limits } from "./008-issue4-profile-limits.ts";
import { m009_retired_printer_ids } from "./009-farm-retired-printer-ids.ts";
import { m010_resumed_chains } from "./010-jobs-resumed-chains.ts";
import { m011_farm_queue } from "./011-farm-queue.ts";
import { m012_webcam_permission } from "./012-webcam-permission.ts";
import { m013_camera_tokens } from "./013-camera-tokens.ts";
import { m014_history_notes } from "./014-history-notes.ts";
import { m015_custom_controls } from "./015-custom-controls.ts";

export const migrations: string[] = [m001_initial, m002_file_analysis, m003_plugins, m004_accounts, m005_send_window, m006_history_queue, m007_job_checkpoints, m008_profile_limits, m009_retired_printer_ids, m010_resumed_chains, m011_farm_queue, m012_webcam_permission, m013_camera_tokens, m014_history_notes, m015_custom_controls];
