/**
 * How `inspect` shows what was read from an image: the whole inspection as JSON (snake_case, as
 * records are), and apptainer's selectors in apptainer's layouts, text or tab-indented JSON.
 * Text from an image is attacker-controlled: on a terminal its control characters are escaped.
 */
import type { AppAttributes, ImageAttributes } from "../core/image_attributes.ts";
import { type ImageInspection, isoTime } from "../core/image_inspection.ts";
import { formatName } from "../core/image_format.ts";
import type { SifObject } from "../core/sif.ts";
import type { OutputStream } from "./io.ts";

/** apptainer's selectors, as `inspect`'s flags set them. */
export interface Selection {
  labels: boolean;
  deffile: boolean;
  runscript: boolean;
  startscript: boolean;
  test: boolean;
  environment: boolean;
  helpfile: boolean;
  listApps: boolean;
  /** `--app NAME`, or undefined. */
  app?: string;
  all: boolean;
}

/** True when any apptainer selector is set (otherwise `inspect` shows the whole inspection). */
export function selects(selection: Selection): boolean {
  return selection.labels || selection.deffile || selection.runscript || selection.startscript ||
    selection.test || selection.environment || selection.helpfile || selection.listApps ||
    selection.app !== undefined || selection.all;
}

/** The whole inspection as a JSON value. */
export function inspectionJson(inspection: ImageInspection): Record<string, unknown> {
  const sif = inspection.sif;
  const squashfs = inspection.squashfs;
  return {
    path: inspection.path,
    size: inspection.size,
    format: inspection.format,
    format_name: formatName(inspection.format),
    arch: inspection.arch,
    created: isoTime(inspection.created),
    sif: sif && {
      version: sif.header.version,
      arch: sif.header.arch,
      id: sif.header.id,
      created: isoTime(sif.header.createdAt),
      modified: isoTime(sif.header.modifiedAt),
      launch_script: sif.header.launchScript,
      descriptors_free: sif.header.descriptorsFree,
      descriptors_total: sif.header.descriptorsTotal,
      descriptors_offset: sif.header.descriptorsOffset,
      descriptors_size: sif.header.descriptorsSize,
      data_offset: sif.header.dataOffset,
      data_size: sif.header.dataSize,
      objects: sif.objects.map(objectJson),
    },
    squashfs: squashfs && {
      offset: squashfs.offset,
      version: squashfs.version,
      compressor: squashfs.compressor,
      block_size: squashfs.blockSize,
      inodes: squashfs.inodes,
      bytes_used: squashfs.bytesUsed,
      created: squashfs.mkfsTime > 0 ? isoTime(squashfs.mkfsTime) : null,
    },
    attributes: goOrder(inspection.attributes),
    ...(inspection.oci ? { oci: inspection.oci } : {}),
    warnings: inspection.warnings,
    error: inspection.problem?.message ?? null,
  };
}

function objectJson(object: SifObject): Record<string, unknown> {
  return {
    id: object.id,
    type: object.typeName,
    data_type: object.dataType,
    name: object.name,
    group: object.group,
    link: object.link,
    offset: object.offset,
    size: object.size,
    created: isoTime(object.createdAt),
    modified: isoTime(object.modifiedAt),
    ...(object.truncated ? { truncated: true } : {}),
    ...(object.partition
      ? {
        partition: {
          fs: object.partition.fs,
          fs_type: object.partition.fsType,
          type: object.partition.type,
          part_type: object.partition.partType,
          arch: object.partition.arch,
          encrypted: object.partition.encrypted,
        },
      }
      : {}),
    ...(object.signature
      ? {
        signature: {
          hash: object.signature.hash,
          hash_type: object.signature.hashType,
          fingerprint: object.signature.fingerprint,
          format: object.signature.format ?? null,
        },
      }
      : {}),
    ...(object.cryptoMessage
      ? {
        crypto_message: {
          format: object.cryptoMessage.format,
          message_type: object.cryptoMessage.messageType,
        },
      }
      : {}),
    ...(object.sbom ? { sbom: object.sbom } : {}),
    ...(object.digest !== undefined ? { digest: object.digest } : {}),
  };
}

/** The attributes apptainer would print for a selection (its `inspectData`). */
export function selectAttributes(
  attributes: ImageAttributes,
  selection: Selection,
): ImageAttributes {
  const app = selection.all ? undefined : selection.app;
  const source: AppAttributes | undefined = app === undefined ? attributes : attributes.apps?.[app];
  const chosen: ImageAttributes = {};
  // Keyed by names from the image: no prototype, so `__proto__` is only a name.
  const apps: Record<string, AppAttributes> = Object.create(null);
  const pick = <K extends keyof AppAttributes>(key: K) => {
    if (source?.[key] === undefined) return;
    if (app === undefined) chosen[key] = attributes[key];
    else (apps[app] ??= {})[key] = source[key];
  };
  const labels = selection.labels || selection.all ||
    !(selection.deffile || selection.runscript || selection.startscript || selection.test ||
      selection.environment || selection.helpfile || selection.listApps);
  if (labels) pick("labels");
  if ((selection.deffile || selection.all) && attributes.deffile !== undefined) {
    chosen.deffile = attributes.deffile;
  }
  if (selection.helpfile || selection.all) pick("helpfile");
  if (selection.runscript || selection.all) pick("runscript");
  if ((selection.startscript || selection.all) && app === undefined && attributes.startscript) {
    chosen.startscript = attributes.startscript;
  }
  if (selection.test || selection.all) pick("test");
  if (selection.environment || selection.all) pick("environment");
  if ((selection.listApps || selection.all) && attributes.apps) {
    Object.assign(apps, attributes.apps);
  }
  if (Object.keys(apps).length > 0) chosen.apps = apps;
  return chosen;
}

/** apptainer's `--json` document: `{"data":{"attributes":...},"type":"container"}`. */
export function apptainerDocument(attributes: ImageAttributes): Record<string, unknown> {
  return { data: { attributes: goOrder(attributes) }, type: "container" };
}

/** apptainer's `--json` output of a document (or an array of them), tab-indented. */
export function apptainerJson(document: unknown): string {
  return JSON.stringify(document, null, "\t") + "\n";
}

/**
 * apptainer's text output: apps, definition file, runscript, startscript, test, help, then
 * `=== path ===` environment blocks and `key: value` labels, both sorted.
 */
export function apptainerText(attributes: ImageAttributes, selection: Selection): string {
  const app = selection.app === undefined ? undefined : attributes.apps?.[selection.app];
  let text = "";
  const line = (value: string | undefined) => {
    if (value) text += `${value}\n`;
  };
  if (selection.listApps) { for (const name of sorted(attributes.apps ?? {})) line(name); }
  line(attributes.deffile);
  line(attributes.runscript || app?.runscript);
  line(attributes.startscript);
  line(attributes.test || app?.test);
  line(attributes.helpfile || app?.helpfile);
  const environment = nonEmpty(attributes.environment) ?? nonEmpty(app?.environment);
  for (const path of sorted(environment ?? {})) {
    text += `=== ${path} ===\n${environment![path]}\n\n`;
  }
  const labels = nonEmpty(attributes.labels) ?? nonEmpty(app?.labels);
  for (const key of sorted(labels ?? {})) text += `${key}: ${labels![key]}\n`;
  return text;
}

/** Text from an image made safe for `out`: on a terminal, control characters are escaped. */
export function safeText(out: OutputStream, text: string): string {
  if (!out.isTerminal) return text;
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g,
    (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** Writes warnings on stderr, one `[warning]` line each. */
export function writeWarnings(err: OutputStream, warnings: string[]): void {
  for (const warning of warnings) err.line(`[warning] ${warning}`);
}

// Go's order: the struct's fields as declared, map keys sorted.
function goOrder(attributes: ImageAttributes): Record<string, unknown> {
  const ordered: Record<string, unknown> = {};
  const map = (value: Record<string, string> | undefined) =>
    value && Object.fromEntries(sorted(value).map((key) => [key, value[key]]));
  if (attributes.apps) {
    ordered.apps = Object.fromEntries(
      sorted(attributes.apps).map((name) => [name, goOrder(attributes.apps![name])]),
    );
  }
  const fields: [keyof ImageAttributes, unknown][] = [
    ["environment", map(attributes.environment)],
    ["labels", map(attributes.labels)],
    ["runscript", attributes.runscript],
    ["test", attributes.test],
    ["helpfile", attributes.helpfile],
    ["deffile", attributes.deffile],
    ["startscript", attributes.startscript],
  ];
  for (const [key, value] of fields) if (value !== undefined) ordered[key] = value;
  return ordered;
}

function sorted(map: Record<string, unknown>): string[] {
  return Object.keys(map).sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
}

function nonEmpty(map: Record<string, string> | undefined): Record<string, string> | undefined {
  return map && Object.keys(map).length > 0 ? map : undefined;
}
