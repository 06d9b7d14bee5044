/**
 * Paginated listings (Django REST framework's `{count, next, previous, results}`), followed to
 * the last page. A `next` that repeats a page already fetched ends the walk instead of looping
 * forever (the original's bug, reference §8.16); a `next` on another origin is refused; every
 * page must be a list or a page object whose `results` is a list of objects.
 */
import { RemoteError } from "../errors.ts";
import { getJson, type HttpOptions, redactUrl } from "../transfer/http.ts";
import { type Asked, objectAnswer, objectList, textField, wrongShape } from "./answers.ts";

const MAX_PAGES = 10_000;

/** One entry of a listing, with the answer it came in (for messages about its shape). */
export interface ListedItem {
  /** The entry. */
  item: Record<string, unknown>;
  /** The page it was on. */
  asked: Asked;
}

/** Every `results` entry across all pages; a plain JSON list is taken as is. */
export async function fetchAllPages(url: string, http: HttpOptions): Promise<ListedItem[]> {
  const items: ListedItem[] = [];
  const seen = new Set<string>();
  const origin = new URL(url).origin;
  let next: string | null = url;
  while (next !== null) {
    if (seen.has(next) || seen.size >= MAX_PAGES) {
      throw new RemoteError(`${redactUrl(url)} keeps paginating (page ${redactUrl(next)} again)`);
    }
    seen.add(next);
    const asked: Asked = { answer: await getJson(next, {}, http), what: "a listing" };
    if (Array.isArray(asked.answer.value)) {
      items.push(...objectList(asked).map((item) => ({ item, asked })));
      return items;
    }
    const page = objectAnswer(asked);
    if (!Array.isArray(page.results)) throw wrongShape(asked, "a page with 'results'");
    items.push(...objectList(asked, page.results).map((item) => ({ item, asked })));
    const link = textField(asked, page, "next");
    next = link === null ? null : new URL(link, next).href;
    if (next !== null && new URL(next).origin !== origin) {
      throw wrongShape(asked, `a next page on ${origin}`, link);
    }
  }
  return items;
}
