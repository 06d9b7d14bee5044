/**
 * Singularity Hub (`hub://`, `shub://`; reference §6.3): manifests at
 * `<base>/container/<collection>/<name>:<tag>[@version]`, whose `version` is the image's MD5,
 * and a paginated collection listing. The service is a read-only archive: no push or delete.
 */
import { NotFoundError, RemoteError } from "../errors.ts";
import { parseImageName } from "../core/names.ts";
import { clientSetting } from "../config/settings.ts";
import { getJson } from "../transfer/http.ts";
import type { ClientEnvironment, RemoteClient, RemoteImage, SearchResults } from "./client.ts";
import { fetchAllPages } from "./pages.ts";

/** The public archive's API. */
export const DEFAULT_HUB_BASE = "https://singularity-hub.org/api";

const MD5 = /^[0-9a-f]{32}$/i;

/** Builds the Singularity Hub client. */
export function hubClient(environment: ClientEnvironment): RemoteClient {
  const base = () => {
    const setting = clientSetting({
      env: environment.env,
      secrets: environment.secrets(),
      client: "hub",
      name: "SREGISTRY_HUB_BASE",
      legacy: ["base"],
    });
    return (setting.value ?? DEFAULT_HUB_BASE).replace(/\/+$/, "");
  };
  return {
    name: "hub",
    capabilities: new Set(["pull", "record", "search"]),
    describe: base,
    async resolve(uri): Promise<RemoteImage> {
      // Hub URLs are case-sensitive: ask with the case the user typed, record lower-cased.
      const asked = parseImageName(uri, { keepCase: true });
      const path = `${asked.collection}/${asked.name}:${asked.tag}` +
        (asked.version ? `@${asked.version}` : "");
      const url = `${base()}/container/${path}`;
      const manifest = await getJson(url, {}, environment.http).catch((error) => {
        if (error instanceof RemoteError && error.status === 404) {
          throw new NotFoundError(`Singularity Hub (${base()}) has no image ${path}`, {
            hint: "'sregistry search' lists what it has",
            cause: error,
          });
        }
        throw error;
      }) as Record<string, unknown>;
      if (typeof manifest !== "object" || manifest === null || typeof manifest.image !== "string") {
        throw new RemoteError(`Singularity Hub answered ${path} without an image URL`);
      }
      const version = typeof manifest.version === "string" && manifest.version !== ""
        ? manifest.version.toLowerCase()
        : asked.version?.toLowerCase() ?? null;
      const recordedName = typeof manifest.name === "string" && manifest.name.includes("/")
        ? manifest.name
        : `${asked.collection}/${asked.name}`;
      const tag = typeof manifest.tag === "string" && manifest.tag !== ""
        ? manifest.tag
        : asked.tag;
      const name = parseImageName(`${recordedName}:${tag}${version ? `@${version}` : ""}`);
      return {
        name,
        downloadUrl: manifest.image,
        expectedMd5: version && MD5.test(version) ? version : null,
        metadata: { ...manifest, selfLink: url },
      };
    },
    async search(query): Promise<SearchResults> {
      const collections = await fetchAllPages(`${base()}/collections/`, environment.http);
      const needle = query?.toLowerCase().replace(/^\/+|\/+$/g, "") ?? "";
      const rows: string[][] = [];
      const records: unknown[] = [];
      for (const collection of collections as Record<string, unknown>[]) {
        const containers = Array.isArray(collection.containers) ? collection.containers : [];
        for (const container of containers as Record<string, unknown>[]) {
          const uri = hubUri(collection, container);
          if (needle && !uri.toLowerCase().includes(needle)) continue;
          rows.push([uri, String(container.detail ?? "")]);
          records.push({ ...container, collection: collection.name, uri });
        }
      }
      return { title: "Collections", columns: ["URI", "DETAIL"], rows, records };
    },
  };
}

function hubUri(collection: Record<string, unknown>, container: Record<string, unknown>): string {
  if (typeof container.uri === "string" && container.uri !== "") return container.uri;
  const name = String(container.name ?? "");
  const full = name.includes("/") ? name : `${collection.name}/${name}`;
  return `${full}:${container.tag ?? "latest"}`;
}
