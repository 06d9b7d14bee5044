/**
 * Paginated listings (Django REST framework's `{count, next, previous, results}`), followed to
 * the last page. A `next` that repeats a page already fetched ends the walk instead of looping
 * forever (the original's bug, reference §8.16).
 */
import { RemoteError } from "../errors.ts";
import { getJson, type HttpOptions, redactUrl } from "../transfer/http.ts";

const MAX_PAGES = 10_000;

/** Every `results` entry across all pages; a plain JSON list is returned as is. */
export async function fetchAllPages(
  url: string,
  http: HttpOptions,
): Promise<unknown[]> {
  const results: unknown[] = [];
  const seen = new Set<string>();
  let next: string | null = url;
  while (next !== null) {
    if (seen.has(next) || seen.size >= MAX_PAGES) {
      throw new RemoteError(`${redactUrl(url)} keeps paginating (page ${redactUrl(next)} again)`);
    }
    seen.add(next);
    const page = await getJson(next, {}, http);
    if (Array.isArray(page)) return [...results, ...page];
    if (typeof page !== "object" || page === null) {
      throw new RemoteError(`${redactUrl(next)} returned an unexpected listing`);
    }
    const body = page as { results?: unknown; next?: unknown };
    if (Array.isArray(body.results)) results.push(...body.results);
    next = typeof body.next === "string" && body.next !== "" ? new URL(body.next, next).href : null;
  }
  return results;
}
