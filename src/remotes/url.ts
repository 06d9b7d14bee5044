/**
 * Plain `https://` and `http://` URLs: download the file as is. No manifest, so no expected MD5;
 * the version is the MD5 computed while downloading, and the name comes from `--name` or the URL.
 * Credentials in the URL (`user:password@`) travel as an Authorization header, which the HTTP
 * layer drops when a redirect leaves the origin; they are never recorded. A stored download is
 * checked against the server's validators, which its record keeps.
 */
import { InvalidNameError } from "../errors.ts";
import { formatImageName, type ImageName, parseImageName } from "../core/names.ts";
import { httpUrl } from "../transfer/http.ts";
import type { CheckPlan, ClientEnvironment, RemoteClient, RemoteImage } from "./client.ts";
import { byValidators } from "./freshness.ts";

/** Builds the plain-URL client for `http` or `https`. */
export function urlClient(environment: ClientEnvironment, scheme: string): RemoteClient {
  return {
    name: scheme,
    capabilities: new Set(["pull"]),
    describe: () => `${scheme}://`,
    resolve(uri, options) {
      const url = httpUrl(uri);
      const name = options.nameHint ? parseImageName(options.nameHint) : nameFromUrl(uri);
      const headers: Record<string, string> = {};
      if (url.username || url.password) {
        const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
        const bytes = new TextEncoder().encode(user);
        headers.authorization = `Basic ${btoa(String.fromCharCode(...bytes))}`;
        url.username = "";
        url.password = "";
      }
      return Promise.resolve<RemoteImage>({
        name,
        downloadUrl: url.href,
        expectedMd5: null,
        metadata: null,
        headers,
      });
    },
    check(record): CheckPlan {
      let url: URL;
      try {
        url = httpUrl(record.url);
      } catch {
        return { endpoint: null, reason: "its URL is not an http(s) URL" };
      }
      if (/=REDACTED(&|$)/.test(url.search)) {
        return {
          endpoint: null,
          reason: "the credentials in its URL were not kept; pull it again with them",
        };
      }
      return {
        endpoint: url.host,
        uri: url.href,
        nameHint: formatImageName(record.name, { withVersion: false }),
        run: () => byValidators(record, environment.http),
      };
    },
  };
}

/**
 * A sensible name for a URL: the file name without its extension as the image, the folder it
 * sits in as the collection (`library` at the top), tag `latest`.
 */
export function nameFromUrl(url: string): ImageName {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidNameError(`${url} is not a valid URL`);
  }
  const segments = parsed.pathname.split("/").map(decodeSegment).map(clean).filter(Boolean);
  const file = segments.pop(); // clean() has dropped the extension
  if (!file) {
    throw new InvalidNameError(`cannot derive an image name from ${url}`, {
      hint: "give one with --name collection/name:tag",
    });
  }
  const collection = segments.pop() ?? "library";
  return parseImageName(`${collection}/${file}`);
}

// A malformed escape (`%zz`) is kept as typed rather than failing the pull.
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

// Keeps what a name segment may hold; dots would make the first segment look like a host.
function clean(segment: string): string {
  return segment.toLowerCase().replace(/\.(sif|simg|img)$/i, "").replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/\./g, "-").replace(/^[-]+|[-]+$/g, "");
}
