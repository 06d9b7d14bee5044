/**
 * Singularity Hub (`hub://`, `shub://`; reference §6.3): manifests at
 * `<base>/container/<collection>/<name>:<tag>[@version]`, whose `version` is the image's MD5,
 * and a paginated collection listing. The service is a read-only archive: no push or delete.
 * A pulled image is checked for a newer version by asking for its tag's manifest again.
 * Every answer is checked by answers.ts before it is used.
 */
import { NotFoundError, RemoteError } from "../errors.ts";
import { formatImageName, parseImageName } from "../core/names.ts";
import { clientSetting } from "../config/client_settings.ts";
import { getJson, hostOf, type JsonAnswer } from "../transfer/http.ts";
import type {
  CheckPlan,
  ClientEnvironment,
  RecordedImage,
  RemoteClient,
  RemoteImage,
  SearchResults,
} from "./client.ts";
import {
  type Asked,
  containerPath,
  imageUrl,
  manifestName,
  objectAnswer,
  objectList,
  requiredText,
  textField,
} from "./answers.ts";
import { fetchAllPages } from "./pages.ts";
import { byManifestVersion, missingManifest } from "./freshness.ts";

/** The public archive's API. */
export const DEFAULT_HUB_BASE = "https://singularity-hub.org/api";

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
  const client: RemoteClient = {
    name: "hub",
    capabilities: new Set(["pull", "record", "search"]),
    describe: base,
    async resolve(uri): Promise<RemoteImage> {
      // Hub URLs are case-sensitive: ask with the case the user typed, record lower-cased.
      const asked = parseImageName(uri, { keepCase: true });
      const server = `Singularity Hub (${base()})`;
      const shown = formatImageName(asked);
      const url = `${base()}/container/${containerPath(asked)}`;
      let answer: JsonAnswer;
      try {
        answer = await getJson(url, {}, environment.http);
      } catch (error) {
        if (error instanceof RemoteError && error.status === 404) {
          throw new NotFoundError(`${server} has no image ${shown}`, {
            hint: "'sregistry search' lists what it has",
            cause: error,
          });
        }
        throw error;
      }
      const manifest = { answer, what: `the manifest of ${shown}` };
      const fields = objectAnswer(manifest);
      const downloadUrl = imageUrl(requiredText(manifest, fields, "image"), server);
      // `name` is `collection/name`; a bare name stays in the collection asked for.
      const fullName = textField(manifest, fields, "name");
      const slash = fullName?.lastIndexOf("/") ?? -1;
      const { name, expectedMd5, notes } = manifestName(server, asked, {
        collection: fullName !== null && slash > 0 ? fullName.slice(0, slash) : asked.collection,
        name: fullName !== null ? fullName.slice(slash + 1) : asked.name,
        tag: textField(manifest, fields, "tag") ?? asked.tag,
        version: textField(manifest, fields, "version"),
      });
      return {
        name,
        downloadUrl,
        expectedMd5,
        metadata: { ...fields, selfLink: url },
        notes,
      };
    },
    async search(query): Promise<SearchResults> {
      const listing = await fetchAllPages(`${base()}/collections/`, environment.http);
      const needle = query?.toLowerCase().replace(/^\/+|\/+$/g, "") ?? "";
      const rows: string[][] = [];
      const records: unknown[] = [];
      for (const { item: collection, asked } of listing) {
        for (const container of objectList(asked, collection.containers ?? [])) {
          const uri = textField(asked, container, "uri") ?? hubUri(asked, collection, container);
          if (needle && !uri.toLowerCase().includes(needle)) continue;
          rows.push([uri, textField(asked, container, "detail") ?? ""]);
          records.push({ ...container, collection: collection.name, uri });
        }
      }
      return { title: "Collections", columns: ["URI", "DETAIL"], rows, records };
    },
    check(record): CheckPlan {
      const missing = missingManifest(record, "Singularity Hub");
      if (missing !== null) return { endpoint: null, reason: missing };
      const uri = askedName(record);
      return {
        endpoint: hostOf(base()),
        uri,
        run: () => byManifestVersion(record, () => client.resolve!(uri, {})),
      };
    },
  };
  return client;
}

// `collection/name:tag` to ask the hub for a record by, in the case of the hub's own manifest
// (its URLs are case-sensitive; records are lower-cased).
function askedName(record: RecordedImage): string {
  const { collection, name, tag } = record.name;
  const recorded = `${collection}/${name}`;
  const metadata = record.metadata as Record<string, unknown>;
  const full = typeof metadata.name === "string" && metadata.name.toLowerCase() === recorded
    ? metadata.name
    : recorded;
  const hubTag = typeof metadata.tag === "string" && metadata.tag.toLowerCase() === tag
    ? metadata.tag
    : tag;
  return `${full}:${hubTag}`;
}

function hubUri(
  asked: Asked,
  collection: Record<string, unknown>,
  container: Record<string, unknown>,
): string {
  const name = textField(asked, container, "name") ?? "";
  const full = name.includes("/") ? name : `${textField(asked, collection, "name") ?? ""}/${name}`;
  return `${full}:${textField(asked, container, "tag") ?? "latest"}`;
}
