/**
 * Words a shell completes from the database: recorded names, collections and clients that start
 * with what was typed. The database is opened read-only and only when its file exists, so
 * completing never creates, migrates or repairs anything, and never waits long for a writer.
 */
import { DatabaseSync } from "node:sqlite";

/** What a completion asks for. */
export type CompletionKind = "images" | "collections" | "clients";

/** The kinds completions ask for. */
export const COMPLETION_KINDS: readonly CompletionKind[] = ["images", "collections", "clients"];

/** The most words returned: a shell shows no more. */
export const MAX_COMPLETIONS = 500;
// A writer holds the database for a moment: wait a little, never as long as commands do.
const BUSY_TIMEOUT_MS = 200;

// Each kind's words, distinct and sorted, starting with :prefix.
const QUERIES: Record<CompletionKind, string> = {
  images: `SELECT DISTINCT word FROM (
      SELECT CASE WHEN instr(:prefix, '@') > 0 THEN container.uri
        ELSE collection.name || '/' || container.name || ':' || container.tag END AS word
      FROM container JOIN collection ON collection.id = container.collection_id)
    WHERE substr(word, 1, length(:prefix)) = :prefix ORDER BY word LIMIT :limit`,
  collections: `SELECT DISTINCT collection.name AS word FROM collection
    WHERE substr(collection.name, 1, length(:prefix)) = :prefix ORDER BY word LIMIT :limit`,
  clients: `SELECT DISTINCT container.client AS word FROM container
    WHERE substr(container.client, 1, length(:prefix)) = :prefix ORDER BY word LIMIT :limit`,
};

/**
 * The words of `kind` in the database file `databaseFile` that start with `prefix` (a name with
 * `@` completes to full names with versions); none when the file does not exist.
 */
export function completionWords(
  databaseFile: string,
  kind: CompletionKind,
  prefix: string,
): string[] {
  try {
    if (!Deno.statSync(databaseFile).isFile) return [];
  } catch {
    return [];
  }
  const db = new DatabaseSync(databaseFile, { readOnly: true });
  try {
    // Set here: Deno's node:sqlite ignores the `timeout` option of a read-only open (5 s).
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return db.prepare(QUERIES[kind]).all({ prefix, limit: MAX_COMPLETIONS })
      .map((row) => String(row.word));
  } finally {
    db.close();
  }
}
