/**
 * Plain `https://` and `http://` URLs: download the file as is. No manifest, so no expected MD5;
 * the version is the MD5 computed while downloading, and the name comes from `--name` or the URL.
 */
import { InvalidNameError } from "../errors.ts";
import { type ImageName, parseImageName } from "../core/names.ts";
import type { ClientEnvironment, RemoteClient, RemoteImage } from "./client.ts";

/** Builds the plain-URL client for `http` or `https`. */
export function urlClient(_environment: ClientEnvironment, scheme: string): RemoteClient {
  return {
    name: scheme,
    capabilities: new Set(["pull"]),
    describe: () => `${scheme}://`,
    resolve(uri, options) {
      const name = options.nameHint ? parseImageName(options.nameHint) : nameFromUrl(uri);
      return Promise.resolve<RemoteImage>({
        name,
        downloadUrl: uri,
        expectedMd5: null,
        metadata: null,
      });
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
  const segments = parsed.pathname.split("/").map(decodeURIComponent).map(clean).filter(Boolean);
  const file = segments.pop(); // clean() has dropped the extension
  if (!file) {
    throw new InvalidNameError(`cannot derive an image name from ${url}`, {
      hint: "give one with --name collection/name:tag",
    });
  }
  const collection = segments.pop() ?? "library";
  return parseImageName(`${collection}/${file}`);
}

// Keeps what a name segment may hold; dots would make the first segment look like a host.
function clean(segment: string): string {
  return segment.toLowerCase().replace(/\.(sif|simg|img)$/i, "").replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/\./g, "-").replace(/^[-]+|[-]+$/g, "");
}
