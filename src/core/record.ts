/**
 * Remote-only records: a name, a URL and metadata, with no image file (the seeds' "Metadata with
 * URL"). Recording over a local image never touches it: its file, version, size and MD5 stay,
 * and only the URL and metadata are refreshed.
 */
import { type Container, findContainers } from "./containers.ts";
import { insertContainer, updateContainer } from "./container_writes.ts";
import { immediate } from "./database.ts";
import { formatImageName, type ImageName, withVersion } from "./names.ts";
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

/** What recording did. */
export interface Recorded {
  /** The record as now stored. */
  container: Container;
  /** Whether the record is new. */
  action: RecordAction;
  /** True when it was a local image, whose file and version were kept. */
  local: boolean;
}

/** Creates or refreshes a remote-only record; a local image only gets the URL and metadata. */
export function recordImage(registry: Registry, options: RecordOptions): Recorded {
  return immediate(registry.db, () => {
    const existing = findContainers(registry.db, options.name)[0];
    const local = existing !== undefined && existing.image !== null;
    const name = local ? withVersion(options.name, existing.version) : options.name;
    const fields = {
      image: name,
      uri: formatImageName(name),
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
      container: findContainer(registry, name),
      action: existing ? "update" : "new",
      local,
    };
  });
}
