/**
 * Numbered migrations of the registry service's database: entry i is migration i+1. Append only.
 */
import { m001_usage } from "./001-usage.ts";

export const REGISTRY_DATABASE_FILE = "registry.sqlite";
export const registryMigrations: string[] = [m001_usage];
