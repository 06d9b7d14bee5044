/**
 * Searching a Singularity Registry Server (reference §6.2's table): every query form, including
 * `collection/name` and `/name[:tag]` that crashed the original, with every page followed and
 * every answer checked for shape.
 */
import { RemoteError, UsageError } from "../errors.ts";
import { getJson, type HttpOptions } from "../transfer/http.ts";
import type { SearchResults } from "./client.ts";
import {
  type Asked,
  objectAnswer,
  objectList,
  requiredText,
  textField,
  wrongShape,
} from "./answers.ts";
import { fetchAllPages, type ListedItem } from "./pages.ts";

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
    const url = `${base}/collection/${encode(form.collection)}`;
    let asked: Asked;
    try {
      asked = { answer: await getJson(url, {}, http), what: `the collection ${form.collection}` };
    } catch (error) {
      if (error instanceof RemoteError && error.status === 404) {
        return containerRows(`Collection ${form.collection}`, []);
      }
      throw error;
    }
    const found = objectAnswer(asked);
    const listed = Object.keys(found).length === 0 ? [] : [{ item: found, asked }];
    return containerRows(`Collection ${form.collection}`, listed);
  }
  const path = (form.collection ? `collection/${encode(form.collection)}/` : "") +
    `name/${encode(form.name)}` + (form.tag ? `/tag/${encode(form.tag)}` : "");
  const containers = await fetchAllPages(`${base}/container/search/${path}`, http);
  const rows = containers.map(({ item, asked }) => [
    `${requiredText(asked, item, "collection")}/${requiredText(asked, item, "name")}:` +
    requiredText(asked, item, "tag"),
    textField(asked, item, "version") ?? "",
    textField(asked, item, "add_date") ?? "",
  ]);
  return {
    title: `Containers ${query}`,
    columns: ["URI", "VERSION", "ADDED"],
    rows,
    records: containers.map(({ item }) => item),
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
  const rows = labels.map(({ item, asked }) => [
    requiredText(asked, item, "key"),
    textField(asked, item, "value") ?? "",
    textList(asked, item, "containers").join(", "),
  ]);
  return {
    title: "Labels",
    columns: ["KEY", "VALUE", "CONTAINERS"],
    rows,
    records: labels.map(({ item }) => item),
  };
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

function containerRows(title: string, collections: ListedItem[]): SearchResults {
  const rows: string[][] = [];
  const records: unknown[] = [];
  for (const { item: collection, asked } of collections) {
    const name = textField(asked, collection, "name");
    for (const container of objectList(asked, collection.containers ?? [])) {
      rows.push([
        textField(asked, container, "uri") ??
          `${name}/${requiredText(asked, container, "name")}:${
            textField(asked, container, "tag") ?? "latest"
          }`,
        textField(asked, container, "detail") ?? "",
      ]);
      records.push({ collection: collection.name, ...container });
    }
  }
  return { title, columns: ["URI", "DETAIL"], rows, records };
}

// A list of strings in an answer's object; absent is empty.
function textList(asked: Asked, record: Record<string, unknown>, key: string): string[] {
  const value = record[key] ?? [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw wrongShape(asked, `a list of text '${key}'`, value);
  }
  return value;
}

function encode(segment: string): string {
  return encodeURIComponent(segment);
}
