/**
 * Numbered migrations: entry i is migration i+1. Append only; never edit one that has shipped.
 */
import { m001_initial } from "./001-initial.ts";
import { m002_issue3_send_window } from "./002-issue3-send-window.ts";

export const migrations: string[] = [m001_initial, m002_issue3_send_window];
