/**
 * Finding the records users name: the newest record of a name, a version under any tag, a
 * version given by a prefix of at least MIN_VERSION_PREFIX hex characters; a name with no record
 * is a NotFoundError whose hint names the nearest recorded names. Several names are all found
 * before the caller does anything with any of them.
 */
import { NotFoundError, UsageError } from "../errors.ts";
import {
  type Container,
  findContainers,
  findVersion,
  findVersionPrefix,
  recordedNames,
} from "./containers.ts";
import type { DatabaseSync } from "node:sqlite";
import { editDistance } from "./edit_distance.ts";
import { collectionKey, formatImageName, type ImageName } from "./names.ts";

/** The fewest hex characters of a version that find it as a prefix. */
export const MIN_VERSION_PREFIX = 8;
// Suggestions in a hint, and candidates listed for an ambiguous prefix.
const MAX_SUGGESTIONS = 3;
const MAX_CANDIDATES = 10;

/**
 * The record a name means: the newest record of it (of its version, when it has one); else its
 * version under any tag; else, for a version of MIN_VERSION_PREFIX or more hex characters, the
 * one version that starts with it (the record of the name's tag first, else the newest). Throws
 * NotFoundError (with the nearest names as a hint), or UsageError for an ambiguous prefix.
 */
export function lookupContainer(db: DatabaseSync, image: ImageName): Container {
  return lookupContainers(db, [image])[0];
}

/**
 * The record each name means (as lookupContainer), in their order: all are found, or one
 * NotFoundError names every name without a record.
 */
export function lookupContainers(db: DatabaseSync, images: ImageName[]): Container[] {
  const found: Container[] = [];
  const missing = new Map<string, ImageName>();
  for (const image of images) {
    const container = findContainers(db, image)[0] ?? findVersion(db, image)[0] ??
      findByPrefix(db, image);
    if (container === undefined) missing.set(formatImageName(image), image);
    else found.push(container);
  }
  if (missing.size > 0) {
    const hints = [...missing].flatMap(([name, image]) => {
      const nearest = nearestNames(db, image);
      if (nearest.length === 0) return [];
      return [`${missing.size > 1 ? `for ${name}, ` : ""}did you mean ${orList(nearest)}?`];
    });
    throw new NotFoundError(`no record of ${[...missing.keys()].join(", ")} in the database`, {
      hint: hints.length > 0 ? hints.join("; ") : "'sregistry images' lists what is recorded",
    });
  }
  return found;
}

// A version prefix: the records whose version starts with it, if they are of one version.
function findByPrefix(db: DatabaseSync, image: ImageName): Container | undefined {
  const prefix = image.version;
  if (prefix === null || !new RegExp(`^[0-9a-f]{${MIN_VERSION_PREFIX},}$`).test(prefix)) {
    return undefined;
  }
  const candidates = findVersionPrefix(db, image, prefix);
  const versions = new Set(candidates.map((container) => container.version));
  const tagged = candidates.filter((container) => container.tag === image.tag);
  if (new Set(tagged.map((container) => container.version)).size === 1) return tagged[0];
  if (versions.size <= 1) return candidates[0];
  const uris = [...new Set(candidates.map((container) => container.uri))];
  const shown = uris.slice(0, MAX_CANDIDATES).join(", ") +
    (uris.length > MAX_CANDIDATES ? ` and ${uris.length - MAX_CANDIDATES} more` : "");
  throw new UsageError(
    `the version prefix ${prefix} of ${formatImageName(image, { withVersion: false })} is ` +
      `ambiguous: ${shown}`,
    { hint: "give more characters of the version" },
  );
}

/**
 * The recorded names nearest to a name without a record, nearest first: the same name under
 * other tags (the newest versions of the name and tag, when it has a version), the same name in
 * another collection, and names a few edits away.
 */
function nearestNames(db: DatabaseSync, image: ImageName): string[] {
  if (image.version !== null) {
    const versions = findContainers(db, { ...image, version: null });
    if (versions.length > 0) return versions.slice(0, MAX_SUGGESTIONS).map((found) => found.uri);
  }
  const wanted = { path: `${collectionKey(image)}/${image.name}`, tag: image.tag };
  const limit = Math.max(1, Math.min(3, Math.floor(wanted.path.length / 5)));
  const scored: { name: string; score: number }[] = [];
  for (const recorded of recordedNames(db)) {
    const path = `${recorded.collection}/${recorded.name}`;
    // Another tag costs half an edit of the name: a user rarely mistypes a name they got right.
    const tagCost = recorded.tag === wanted.tag ? 0 : 0.5;
    // The same image name in another collection ("hello-world" for vsoch/hello-world).
    const sameName = recorded.name === image.name ? 1 + tagCost : Infinity;
    const score = Math.min(sameName, editDistance(wanted.path, path, limit) + tagCost);
    if (score <= limit) scored.push({ name: `${path}:${recorded.tag}`, score });
  }
  return scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, MAX_SUGGESTIONS).map((entry) => entry.name);
}

function orList(names: string[]): string {
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}
