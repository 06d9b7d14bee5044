/**
 * The public JSON shape of a container record, with the database's field names. `image` is an
 * absolute path (or null for a remote-only record), whatever is stored. The shape itself is
 * defined once, in core/container_json.ts's SQL, so one record and 100,000 records agree.
 */
import type { Container } from "../core/containers.ts";
import { containerRecordJson, containerRecordsJson } from "../core/container_json.ts";
import type { ImageFilter, RecordOrder } from "../core/container_listing.ts";
import type { Registry } from "../core/registry.ts";
import type { OutputStream } from "./io.ts";

/** The JSON object printed for one container. */
export function containerRecord(registry: Registry, container: Container): Record<string, unknown> {
  return JSON.parse(containerRecordJson(registry.db, registry.storage.root, container.id));
}

/**
 * Writes the records matching `queries` (and `where`, in `order`) as a JSON array, one record per
 * line. Every batch is read before the first is written, so a failure part-way (a damaged
 * database) leaves nothing on stdout rather than half an array.
 */
export function writeRecords(
  out: OutputStream,
  registry: Registry,
  queries: string[],
  options: { where?: ImageFilter; order?: RecordOrder } = {},
): void {
  const separator = ",\n  ";
  const batches = [
    ...containerRecordsJson(registry.db, registry.storage.root, queries, {
      batchSize: 1000,
      separator,
      ...options,
    }),
  ];
  if (batches.length === 0) {
    out.write("[]\n");
    return;
  }
  out.write("[\n  " + batches[0]);
  for (const batch of batches.slice(1)) out.write(separator + batch);
  out.write("\n]\n");
}

/** Serialises a value as indented JSON with a trailing newline. */
export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}
