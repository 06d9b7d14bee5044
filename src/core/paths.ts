/**
 * POSIX path arithmetic (the executable runs on Linux and macOS), in place of `node:path`:
 * importing that costs about 6 ms of start-up, which every script calling `get` in a loop pays.
 * Same results as node:path's posix functions for the calls sregistry makes.
 */

/** The path separator. */
export const sep = "/";

/** True for an absolute path. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** Joins segments and normalises the result. */
export function join(...segments: string[]): string {
  const joined = segments.filter((segment) => segment !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** Resolves segments right to left into an absolute, normalised path (from the working folder). */
export function resolve(...segments: string[]): string {
  let path = "";
  for (let i = segments.length - 1; i >= 0 && !isAbsolute(path); i--) {
    if (segments[i] !== "") path = path === "" ? segments[i] : `${segments[i]}/${path}`;
  }
  if (!isAbsolute(path)) path = path === "" ? Deno.cwd() : `${Deno.cwd()}/${path}`;
  return normalize(path);
}

/** Removes `.` and `..` segments and repeated and trailing slashes. */
export function normalize(path: string): string {
  const absolute = isAbsolute(path);
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts.at(-1) !== "..") parts.pop();
      else if (!absolute) parts.push("..");
    } else {
      parts.push(part);
    }
  }
  const body = parts.join("/");
  return absolute ? `/${body}` : body === "" ? "." : body;
}

/** The folder part of a path. */
export function dirname(path: string): string {
  const trimmed = withoutTrailingSlashes(path);
  if (trimmed === "") return path === "" ? "." : "/";
  const slash = trimmed.lastIndexOf("/");
  if (slash === -1) return ".";
  if (slash === 0) return "/";
  return withoutTrailingSlashes(trimmed.slice(0, slash)) || "/";
}

/** The last segment of a path. */
export function basename(path: string): string {
  const trimmed = withoutTrailingSlashes(path);
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** The relative path from `from` to `to`, both resolved first. */
export function relative(from: string, to: string): string {
  const fromParts = resolve(from).split("/").filter(Boolean);
  const toParts = resolve(to).split("/").filter(Boolean);
  let common = 0;
  while (
    common < fromParts.length && common < toParts.length &&
    fromParts[common] === toParts[common]
  ) {
    common++;
  }
  return [...Array(fromParts.length - common).fill(".."), ...toParts.slice(common)].join("/");
}

// Without a regular expression: the first one a process runs costs a compilation, and paths
// are worked out at every start.
function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(0, end);
}
