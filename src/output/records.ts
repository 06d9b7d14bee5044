/**
 * The public JSON shape of a container record, with the database's field names. `image` is an
 * absolute path (or null for a remote-only record), whatever is stored.
 */
import type { Container } from "../core/containers.ts";
import { imageFile, type Registry } from "../core/registry.ts";

/** The JSON object printed for one container. */
export function containerRecord(registry: Registry, container: Container): Record<string, unknown> {
  const image = imageFile(registry, container);
  return {
    id: container.id,
    collection: container.collection,
    collection_id: container.collectionId,
    name: container.name,
    tag: container.tag,
    version: container.version,
    uri: container.uri,
    image,
    url: container.url,
    client: container.client,
    created_at: container.createdAt,
    location: image === null ? "remote" : "local",
    size: container.size,
    md5: container.md5,
    metadata: container.metadata,
    metrics: container.metrics,
  };
}

/** Serialises a value as indented JSON with a trailing newline. */
export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}
