/**
 * An image's metadata as `apptainer inspect` shows it (definition file, labels, environment,
 * scripts, help, apps), assembled from the sources of reference/sif.md §3.3 in its order: the
 * SIF's `inspect-metadata.json` and Def.FILE objects, then the files of the root filesystem, then
 * a Labels object and the OCI config. Every file and object is read under a size cap, untrusted
 * JSON is reduced to strings in maps without a prototype (`__proto__` or `toString` is only a
 * key), a file that is missing or unparsable is skipped as apptainer skips it, and one that is
 * damaged is skipped with a warning while the others are read.
 */
import { InvalidImageError } from "../errors.ts";
import type { ImageFile } from "./image_file.ts";
import { readObject, type Sif, type SifObject, SifType } from "./sif.ts";
import type { Squashfs } from "./squashfs.ts";

/** A definition file is read up to this size (sif.md §6.7). */
const MAX_TEXT = 1024 * 1024;
/** A JSON object (inspect-metadata.json, labels, OCI config) is read up to this size. */
const MAX_JSON = 16 * 1024 * 1024;
/** Apps read from /scif/apps; more are named in a warning. */
const MAX_APPS = 256;
/** Environment files read per folder. */
const MAX_ENVIRONMENT_FILES = 256;
const METADATA_JSON = "inspect-metadata.json";
/** The environment files apptainer's inspect shows: Docker's, then the definition file's. */
const ENVIRONMENT_FILES = /^(10-docker.*|9.*-environment)\.sh$/;
const OCI_CONFIG_JSON = "oci-config.json";

/** What `apptainer inspect` shows of one app. */
export interface AppAttributes {
  /** Environment scripts by their path in the image. */
  environment?: Record<string, string>;
  /** Labels. */
  labels?: Record<string, string>;
  /** The runscript. */
  runscript?: string;
  /** The test script. */
  test?: string;
  /** The runscript's help text. */
  helpfile?: string;
}

/** What `apptainer inspect --all` shows; every key is absent when empty, as in apptainer. */
export interface ImageAttributes extends AppAttributes {
  /** Apps by name. */
  apps?: Record<string, AppAttributes>;
  /** The definition file the image was built from. */
  deffile?: string;
  /** The startscript (instances). */
  startscript?: string;
}

/** The parts of an OCI image config sregistry shows (`oci-config.json`, or an OCI-SIF's). */
export interface OciConfig {
  /** Architecture, as OCI names it. */
  architecture?: string;
  /** Creation time, RFC 3339. */
  created?: string;
  /** `KEY=value` strings. */
  env?: string[];
  /** Default command. */
  cmd?: string[];
  /** Entrypoint. */
  entrypoint?: string[];
  /** Labels. */
  labels?: Record<string, string>;
}

/** Where the metadata is read from. */
export interface AttributeSources {
  /** The open image. */
  file: ImageFile;
  /** Its SIF header and objects, for a SIF. */
  sif: Sif | null;
  /** Its root filesystem, when it can be read. */
  rootfs: Squashfs | null;
}

/** Assembled metadata and what was skipped. */
export interface AssembledAttributes {
  /** The attributes (only what the SIF's objects gave when `failure` is set). */
  attributes: ImageAttributes;
  /** The OCI config, when the image has one. */
  oci: OciConfig | null;
  /** Files or objects that were skipped, and why. */
  warnings: string[];
  /** Why the root filesystem could not be read (damaged or crafted), or null. */
  failure: InvalidImageError | null;
  /** True when the metadata came from `inspect-metadata.json` (the root filesystem is not read). */
  fromMetadata: boolean;
}

/** Reads every attribute (`want: "all"`) or only the labels. */
export function assembleAttributes(
  sources: AttributeSources,
  want: "all" | "labels",
): AssembledAttributes {
  const warnings: string[] = [];
  const objects = sifObjects(sources, want, warnings);
  const oci = objects.ociConfig ?? readOciImageConfig(sources, warnings);
  let attributes: ImageAttributes = {};
  let failure: InvalidImageError | null = null;
  if (objects.metadata) {
    // Images built by Singularity >= 3.7 and every Apptainer: the squashfs is never opened.
    attributes = want === "all" ? objects.metadata : pick(objects.metadata);
  } else if (sources.rootfs) {
    try {
      attributes = fromRootfs(sources.rootfs, want, warnings);
    } catch (error) {
      if (!(error instanceof InvalidImageError)) throw error;
      failure = error;
    }
  }
  return {
    attributes: finish(attributes, objects, oci, want),
    oci,
    warnings,
    failure,
    fromMetadata: objects.metadata !== undefined,
  };
}

// The SIF's own fallbacks, after the preferred sources.
function finish(
  attributes: ImageAttributes,
  objects: SifMetadata,
  oci: OciConfig | null,
  want: "all" | "labels",
): ImageAttributes {
  attributes.labels ??= objects.labels ?? oci?.labels;
  if (want === "labels") return attributes.labels ? { labels: attributes.labels } : {};
  if (objects.deffile !== undefined) attributes.deffile = objects.deffile;
  if (!attributes.environment && oci?.env?.length) {
    attributes.environment = plainMap([[OCI_CONFIG_JSON, oci.env.join("\n")]]);
  }
  return clean(attributes);
}

interface SifMetadata {
  metadata?: ImageAttributes;
  deffile?: string;
  labels?: Record<string, string>;
  ociConfig?: OciConfig;
}

function sifObjects(
  sources: AttributeSources,
  want: "all" | "labels",
  warnings: string[],
): SifMetadata {
  const found: SifMetadata = {};
  const sif = sources.sif;
  if (!sif) return found;
  const read = (object: SifObject, cap: number, what: string): string | undefined => {
    try {
      return new TextDecoder().decode(readObject(sources.file, object, cap, what));
    } catch (error) {
      if (!(error instanceof InvalidImageError)) throw error;
      warnings.push(error.message);
      return undefined;
    }
  };
  const first = (test: (object: SifObject) => boolean) => sif.objects.find(test);
  const deffile = want === "all" && first((object) => object.dataType === SifType.deffile);
  if (deffile) {
    const text = read(deffile, MAX_TEXT, "its definition file");
    if (text !== undefined) found.deffile = trimNewlines(text);
  }
  const metadata = first((object) => isJsonNamed(object, METADATA_JSON));
  if (metadata) {
    const parsed = parseJson(read(metadata, MAX_JSON, METADATA_JSON), METADATA_JSON, warnings);
    const attributes = record(record(record(parsed)?.data)?.attributes);
    if (attributes) found.metadata = appAttributes(attributes, true);
    else if (parsed !== undefined) warnings.push(`${METADATA_JSON} has no data.attributes object`);
  }
  const labels = first((object) => object.dataType === SifType.labels);
  if (labels) {
    const what = "its JSON.Labels object";
    const parsed = parseJson(
      read(labels, MAX_JSON, what),
      `${sources.file.name}: ${what}`,
      warnings,
    );
    found.labels = stringMap(parsed);
  }
  const ociConfig = first((object) => isJsonNamed(object, OCI_CONFIG_JSON));
  if (ociConfig) {
    const parsed = parseJson(read(ociConfig, MAX_JSON, OCI_CONFIG_JSON), OCI_CONFIG_JSON, warnings);
    found.ociConfig = ociSection(record(parsed));
  }
  return found;
}

function isJsonNamed(object: SifObject, name: string): boolean {
  return object.dataType === SifType.genericJson && object.name === name;
}

// An OCI-SIF (SingularityCE 4): index → manifest → config, each an OCI.Blob found by digest.
function readOciImageConfig(sources: AttributeSources, warnings: string[]): OciConfig | null {
  const sif = sources.sif;
  const index = sif?.objects.find((object) => object.dataType === SifType.ociRootIndex);
  if (!sif || !index) return null;
  const blob = (digest: unknown, what: string) => {
    const object = sif.objects.find((candidate) =>
      candidate.dataType === SifType.ociBlob && candidate.digest === digest
    );
    if (!object) {
      warnings.push(`the OCI ${what} named by the image's index is missing`);
      return null;
    }
    return readJson(sources.file, object, `the OCI ${what}`, warnings);
  };
  const root = record(readJson(sources.file, index, "the OCI index", warnings));
  const manifests = Array.isArray(root?.manifests) ? root.manifests : [];
  const manifest = record(blob(record(manifests[0])?.digest, "manifest"));
  if (!manifest) return null;
  const config = record(blob(record(manifest.config)?.digest, "config"));
  if (!config) return null;
  const section = ociSection(record(config.config)) ?? {};
  if (typeof config.architecture === "string") section.architecture = config.architecture;
  if (typeof config.created === "string") section.created = config.created;
  return section;
}

function readJson(file: ImageFile, object: SifObject, what: string, warnings: string[]): unknown {
  try {
    return parseJson(
      new TextDecoder().decode(readObject(file, object, MAX_JSON, what)),
      what,
      warnings,
    );
  } catch (error) {
    if (!(error instanceof InvalidImageError)) throw error;
    warnings.push(error.message);
    return undefined;
  }
}

function ociSection(config: Record<string, unknown> | null): OciConfig | undefined {
  if (!config) return undefined;
  const strings = (value: unknown) =>
    Array.isArray(value) ? value.filter((item) => typeof item === "string") : undefined;
  const section: OciConfig = {};
  const env = strings(config.Env);
  const cmd = strings(config.Cmd);
  const entrypoint = strings(config.Entrypoint);
  const labels = stringMap(config.Labels);
  if (env) section.env = env;
  if (cmd) section.cmd = cmd;
  if (entrypoint) section.entrypoint = entrypoint;
  if (labels) section.labels = labels;
  if (typeof config.architecture === "string") section.architecture = config.architecture;
  if (typeof config.created === "string") section.created = config.created;
  return section;
}

// The files apptainer's inspect script cats, read from the image without running it. The root
// directory must be readable (else nothing is); past it, a file that is damaged or crafted (a
// link loop, over its cap) costs only itself: a warning names it and the others are read.
function fromRootfs(
  rootfs: Squashfs,
  want: "all" | "labels",
  warnings: string[],
): ImageAttributes {
  rootfs.list("/");
  const item = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof InvalidImageError)) throw error;
      if (!warnings.includes(error.message)) warnings.push(error.message);
      return undefined;
    }
  };
  const text = (path: string) => item(() => readText(rootfs, path));
  const labelsAt = (path: string) => item(() => readLabels(rootfs, path, warnings));
  const environmentAt = (folder: string, pattern: RegExp) =>
    item(() => readEnvironment(rootfs, folder, pattern, text, warnings));
  const base = "/.singularity.d";
  const labels = labelsAt(`${base}/labels.json`);
  if (want === "labels") return labels ? { labels } : {};
  const attributes: ImageAttributes = {
    labels,
    deffile: text(`${base}/Singularity`),
    runscript: text(`${base}/runscript`),
    startscript: text(`${base}/startscript`),
    test: text(`${base}/test`),
    helpfile: text(`${base}/runscript.help`),
    environment: environmentAt(`${base}/env`, ENVIRONMENT_FILES),
  };
  const apps = item(() => rootfs.list("/scif/apps")) ?? [];
  if (apps.length > MAX_APPS) warnings.push(`only the first ${MAX_APPS} apps were read`);
  const found: [string, AppAttributes][] = [];
  for (const app of apps.slice(0, MAX_APPS)) {
    const folder = `/scif/apps/${app}/scif`;
    if (!item(() => rootfs.isDirectory(folder))) continue;
    found.push([
      app,
      clean({
        labels: labelsAt(`${folder}/labels.json`),
        runscript: text(`${folder}/runscript`),
        test: text(`${folder}/test`),
        helpfile: text(`${folder}/runscript.help`),
        environment: environmentAt(`${folder}/env`, /^9.*-environment\.sh$/),
      }),
    ]);
  }
  if (found.length > 0) attributes.apps = plainMap(found);
  return attributes;
}

function readText(rootfs: Squashfs, path: string): string | undefined {
  const read = rootfs.readFile(path, MAX_TEXT);
  return "bytes" in read ? trimNewlines(new TextDecoder().decode(read.bytes)) : undefined;
}

function readLabels(
  rootfs: Squashfs,
  path: string,
  warnings: string[],
): Record<string, string> | undefined {
  const text = readText(rootfs, path);
  return text === undefined ? undefined : stringMap(parseJson(text, path, warnings));
}

// The environment files of a folder; `text` reads one (a file that fails is only skipped).
function readEnvironment(
  rootfs: Squashfs,
  folder: string,
  pattern: RegExp,
  text: (path: string) => string | undefined,
  warnings: string[],
): Record<string, string> | undefined {
  const names = (rootfs.list(folder) ?? []).filter((name) => pattern.test(name));
  if (names.length > MAX_ENVIRONMENT_FILES) {
    warnings.push(
      `only the first ${MAX_ENVIRONMENT_FILES} environment files of ${folder} were read`,
    );
  }
  const found: [string, string][] = [];
  for (const name of names.slice(0, MAX_ENVIRONMENT_FILES)) {
    const read = text(`${folder}/${name}`);
    if (read !== undefined) found.push([`${folder}/${name}`, read]);
  }
  return found.length > 0 ? plainMap(found) : undefined;
}

// inspect-metadata.json's attributes (and its apps'), as strings and string maps only.
function appAttributes(value: Record<string, unknown>, top: boolean): ImageAttributes {
  const text = (key: string) => typeof value[key] === "string" ? value[key] as string : undefined;
  const attributes: ImageAttributes = {
    environment: stringMap(value.environment),
    labels: stringMap(value.labels),
    runscript: text("runscript"),
    test: text("test"),
    helpfile: text("helpfile"),
  };
  if (top) {
    attributes.deffile = text("deffile");
    attributes.startscript = text("startscript");
    const apps = record(value.apps);
    if (apps) {
      attributes.apps = plainMap(
        Object.entries(apps).slice(0, MAX_APPS).flatMap(
          ([name, app]): [string, AppAttributes][] => {
            const fields = record(app);
            return fields ? [[name, clean(appAttributes(fields, false))]] : [];
          },
        ),
      );
    }
  }
  return attributes;
}

function pick(attributes: ImageAttributes): ImageAttributes {
  return attributes.labels ? { labels: attributes.labels } : {};
}

// Drops empty values, as apptainer's JSON omits them.
function clean(attributes: ImageAttributes): ImageAttributes {
  const entries = Object.entries(attributes).filter(([, value]) =>
    value !== undefined && value !== "" &&
    !(typeof value === "object" && Object.keys(value).length === 0)
  );
  return Object.fromEntries(entries) as ImageAttributes;
}

function parseJson(text: string | undefined, what: string, warnings: string[]): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    warnings.push(`${what} is not valid JSON; skipped`);
    return undefined;
  }
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : null;
}

// A JSON object's string, number and boolean values as strings; anything else is dropped.
function stringMap(value: unknown): Record<string, string> | undefined {
  const object = record(value);
  if (!object) return undefined;
  const entries: [string, string][] = [];
  for (const [key, item] of Object.entries(object)) {
    if (typeof item === "string") entries.push([key, item]);
    else if (typeof item === "number" || typeof item === "boolean") {
      entries.push([key, String(item)]);
    }
  }
  return plainMap(entries);
}

/**
 * A map without a prototype: a name from the image (`toString`, `__proto__`) is only a key, and
 * looking up one it does not hold finds nothing.
 */
function plainMap<T>(entries: [string, T][]): Record<string, T> {
  const map = Object.create(null) as Record<string, T>;
  for (const [key, value] of entries) map[key] = value;
  return map;
}

function trimNewlines(text: string): string {
  return text.replace(/\n+$/, "");
}
