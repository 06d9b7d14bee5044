/**
 * Searching a Singularity Registry Server (reference §6.2's table): every query form, including
 * `collection/name` and `/name[:tag]` that crashed the original, with every page followed.
 */
import { RemoteError, UsageError } from "../errors.ts";
import { getJson, type HttpOptions } from "../transfer/http.ts";
import type { SearchResults } from "./client.ts";
import { fetchAllPages } from "./pages.ts";

/** A parsed search query. */
export type SearchForm =
  | { kind: "all" }
  | { kind: "collection"; collection: string }
  | { kind: "container"; collection: string | null; name: string; tag: string | null };

/** Searches the server at `base` (ending in /api) for `query`. */
export async function searchRegistry(
  base: string,
  query: string | null,
  http: HttpOptions,
): Promise<SearchResults> {
  const form = searchForm(query);
  if (form.kind === "all") {
    const collections = await fetchAllPages(`${base}/collections/`, http);
    return containerRows("Collections", collections);
  }
  if (form.kind === "collection") {
    // One collection is a single object (`{}` when it does not exist), not a listing.
    const found = await getJson(`${base}/collection/${encode(form.collection)}`, {}, http)
      .catch((error) => {
        if (error instanceof RemoteError && error.status === 404) return {};
        throw error;
      });
    return containerRows(`Collection ${form.collection}`, [found]);
  }
  const path = (form.collection ? `collection/${encode(form.collection)}/` : "") +
    `name/${encode(form.name)}` + (form.tag ? `/tag/${encode(form.tag)}` : "");
  const containers = await fetchAllPages(`${base}/container/search/${path}`, http);
  const rows = (containers as Record<string, unknown>[]).map((container) => [
    `${container.collection}/${container.name}:${container.tag}`,
    String(container.version ?? ""),
    String(container.add_date ?? ""),
  ]);
  return {
    title: `Containers ${query}`,
    columns: ["URI", "VERSION", "ADDED"],
    rows,
    records: containers,
  };
}

/** Lists labels on the server at `base`, optionally by key and value. */
export async function searchLabels(
  base: string,
  key: string | null,
  value: string | null,
  http: HttpOptions,
): Promise<SearchResults> {
  const path = key && value
    ? `/${encode(key)}/key/${encode(value)}/value`
    : key
    ? `/${encode(key)}/key`
    : value
    ? `/${encode(value)}/value`
    : "";
  const labels = await fetchAllPages(`${base}/labels/search${path}`, http);
  const rows = (labels as Record<string, unknown>[]).map((label) => [
    String(label.key ?? ""),
    String(label.value ?? ""),
    Array.isArray(label.containers) ? label.containers.join(", ") : "",
  ]);
  return { title: "Labels", columns: ["KEY", "VALUE", "CONTAINERS"], rows, records: labels };
}

/** Parses a search query: none, `collection[/]`, `collection/name[:tag]`, `/name[:tag]`. */
export function searchForm(query: string | null): SearchForm {
  if (query === null || query === "" || query === "*") return { kind: "all" };
  if (/[\s\\]/.test(query) || query.includes("..")) {
    throw new UsageError(`invalid search query ${JSON.stringify(query)}`);
  }
  const across = query.startsWith("/");
  const trimmed = query.replace(/^\/+/, "").replace(/\/+$/, "").toLowerCase();
  if (trimmed === "") return { kind: "all" };
  const slash = trimmed.lastIndexOf("/");
  if (!across && slash === -1 && !trimmed.includes(":")) {
    return { kind: "collection", collection: trimmed };
  }
  const collection = across || slash === -1 ? null : trimmed.slice(0, slash);
  const [name, tag] = trimmed.slice(slash + 1).split(":", 2);
  if (!name) throw new UsageError(`invalid search query ${JSON.stringify(query)}: no name`);
  return { kind: "container", collection, name, tag: tag || null };
}

function containerRows(title: string, collections: unknown[]): SearchResults {
  const rows: string[][] = [];
  const records: unknown[] = [];
  for (const collection of collections as Record<string, unknown>[]) {
    if (typeof collection !== "object" || collection === null) continue;
    const containers = Array.isArray(collection.containers) ? collection.containers : [];
    for (const container of containers as Record<string, unknown>[]) {
      rows.push([
        String(container.uri ?? `${collection.name}/${container.name}:${container.tag}`),
        String(container.detail ?? ""),
      ]);
      records.push({ collection: collection.name, ...container });
    }
  }
  return { title, columns: ["URI", "DETAIL"], rows, records };
}

function encode(segment: string): string {
  return encodeURIComponent(segment);
}
