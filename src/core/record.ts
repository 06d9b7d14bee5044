/**
 * Remote-only records: a name, a URL and metadata, with no image file (the seeds' "Metadata with
 * URL"). Recording over a local image keeps its file and only refreshes URL and metadata.
 */
import { type Container, findContainers, insertContainer, updateContainer } from "./containers.ts";
import { immediate } from "./database.ts";
import { formatImageName, type ImageName } from "./names.ts";
import type { RecordAction } from "./add.ts";
import { findContainer, type Registry } from "./registry.ts";

/** What to record. */
export interface RecordOptions {
  /** The name, usually with the remote's version. */
  name: ImageName;
  /** Where the image can be fetched. */
  url: string;
  /** Metadata to keep (a manifest, or the user's JSON). */
  metadata?: unknown;
  /** Client name. */
  client: string;
}

/** Creates or refreshes a remote-only record. */
export function recordImage(
  registry: Registry,
  options: RecordOptions,
): { container: Container; action: RecordAction } {
  return immediate(registry.db, () => {
    const existing = findContainers(registry.db, options.name)[0];
    const fields = {
      image: options.name,
      uri: formatImageName(options.name),
      file: existing?.image ?? null,
      url: options.url,
      client: options.client,
      metadata: options.metadata ?? existing?.metadata ?? null,
      size: existing?.size ?? null,
      md5: existing?.md5 ?? null,
    };
    if (existing) updateContainer(registry.db, existing.id, fields);
    else insertContainer(registry.db, fields);
    return {
      container: findContainer(registry, options.name),
      action: existing ? "update" : "new",
    };
  });
}
