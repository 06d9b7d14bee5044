/**
 * The public JSON shape of a container record, with the database's field names. `image` is an
 * absolute path (or null for a remote-only record), whatever is stored. The shape itself is
 * defined once, in core/containers.ts's SQL, so one record and 100,000 records agree.
 */
import {
  type Container,
  containerRecordJson,
  containerRecordsJson,
  type ImageFilter,
} from "../core/containers.ts";
import type { Registry } from "../core/registry.ts";
import type { OutputStream } from "./io.ts";

/** The JSON object printed for one container. */
export function containerRecord(registry: Registry, container: Container): Record<string, unknown> {
  return JSON.parse(containerRecordJson(registry.db, registry.storage.root, container.id));
}

/** Streams the records matching `queries` (and `where`) as a JSON array, one record per line. */
export function writeRecords(
  out: OutputStream,
  registry: Registry,
  queries: string[],
  where: ImageFilter = {},
): void {
  const separator = ",\n  ";
  let first = true;
  out.write("[");
  const batches = containerRecordsJson(registry.db, registry.storage.root, queries, {
    batchSize: 1000,
    separator,
    where,
  });
  for (const batch of batches) {
    out.write((first ? "\n  " : separator) + batch);
    first = false;
  }
  out.write(first ? "]\n" : "\n]\n");
}

/** Serialises a value as indented JSON with a trailing newline. */
export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}
