/**
 * Refreshing: asking the remote each record came from whether it still has that image (each
 * client's `check`), and with `pull` fetching the newer ones through pull.ts, so they are verified,
 * journaled and resumable as any pull. Only the newest record of a name:tag is asked about; a
 * record without a remote causes no request; a few remotes are asked at once, one remote at most
 * PER_REMOTE requests at a time, and one that could not be reached is not asked again in the run.
 * Nothing stored changes unless pulling, and a pull never removes the version it supersedes.
 */
import { InterruptedError, RemoteError, SregistryError } from "../errors.ts";
import type { Container } from "../core/containers.ts";
import { listContainers } from "../core/container_listing.ts";
import { type ImageName, parseImageName } from "../core/names.ts";
import type { Registry } from "../core/registry.ts";
import type { ProgressListener } from "../transfer/progress.ts";
import { UnreachableError } from "../transfer/http.ts";
import type { CheckPlan, ClientEnvironment, RemoteCheck, RemoteClient } from "./client.ts";
import { recordClient } from "./clients.ts";
import { pullImage, recordRemote } from "./pull.ts";

/** Requests one remote is sent at the same time, however many jobs run. */
export const PER_REMOTE = 2;

/** What refresh found out about a record, or did about it. */
export type RefreshStatus =
  | "current"
  | "outdated"
  | "updated"
  | "gone"
  | "unknown"
  | "skipped"
  | "failed";

/** One record asked about. */
export interface RefreshEntry {
  /** The record (the newest of its name:tag). */
  container: Container;
  /** What the remote said, or what a pull then did (`updated`), or why nothing was asked. */
  status: RefreshStatus;
  /** What was asked, as `pull` takes it (`hub://...`, a URL, `oras://...`); null if nothing. */
  remote: string | null;
  /** What the remote names its image by now (an MD5, a manifest digest, an ETag), if anything. */
  remoteVersion: string | null;
  /** Why, in a few words; the error's message when it failed. */
  detail: string | null;
  /** What to do about a failure. */
  hint: string | null;
  /** The record a pull made (or a remote-only record's new version), with its file. */
  pulled: { container: Container; path: string | null } | null;
  /** What the user should know about a pull: the remote's notes, an unverified download. */
  notes: string[];
  /** What reading a pulled image found wrong (not an image, damaged). */
  warnings: string[];
}

/** What a refresh found and did. */
export interface RefreshReport {
  /** The records asked about (or that could not be), oldest first. */
  entries: RefreshEntry[];
  /** Records matching the queries that came from no remote (added, imported): not asked about. */
  withoutRemote: number;
  /** Older versions of a name:tag whose newest record was asked about instead. */
  olderVersions: number;
}

/** How to refresh. */
export interface RefreshOptions {
  /** Records whose collection, name, tag or uri contains one of these; all when empty. */
  queries: string[];
  /** Fetch the newer images (a remote-only record records the new version instead). */
  pull: boolean;
  /** Remotes asked at the same time. */
  jobs: number;
  /** What the clients are built over (HTTP options, interrupt signal, settings). */
  environment: ClientEnvironment;
  /** Told after every record asked about. */
  onChecked?: (done: number, total: number) => void;
  /** Told before each pull starts. */
  onPull?: (entry: RefreshEntry) => void;
  /** Told after each pull, whatever its outcome. */
  onPulled?: (entry: RefreshEntry) => void;
  /** Download progress of the pull under way. */
  onProgress?: ProgressListener;
  /** Told when another process is already downloading the same image. */
  onWait?: () => void;
}

// A record with what its client would ask.
interface Planned {
  entry: RefreshEntry;
  client: RemoteClient;
  plan: Extract<CheckPlan, { endpoint: string }>;
}

/** Asks the remotes about the records matching the queries, and pulls newer images if asked. */
export async function refreshRecords(
  registry: Registry,
  options: RefreshOptions,
): Promise<RefreshReport> {
  const { records, withoutRemote, olderVersions } = chooseRecords(registry, options.queries);
  const clients = new Map<string, RemoteClient | null>();
  const clientOf = (name: string) => {
    if (!clients.has(name)) clients.set(name, recordClient(name, options.environment));
    return clients.get(name)!;
  };
  const entries: RefreshEntry[] = [];
  const planned: Planned[] = [];
  for (const container of records) {
    const entry = newEntry(container);
    entries.push(entry);
    const found = planCheck(entry, clientOf(container.client));
    if (found !== null) planned.push({ entry, ...found });
  }
  await askRemotes(planned, options);
  if (options.pull) {
    for (const item of planned.filter((item) => item.entry.status === "outdated")) {
      await pullNewer(registry, item, options);
      options.onPulled?.(item.entry);
    }
  }
  return { entries, withoutRemote, olderVersions };
}

// The newest record of each name:tag matching the queries that has a remote, oldest first.
function chooseRecords(
  registry: Registry,
  queries: string[],
): { records: Container[]; withoutRemote: number; olderVersions: number } {
  const all = listContainers(registry.db, queries);
  const newest = new Map<string, Container>();
  for (const container of all) {
    const key = `${container.collection}/${container.name}:${container.tag}`;
    const seen = newest.get(key);
    if (seen === undefined || container.id > seen.id) newest.set(key, container);
  }
  const chosen = [...newest.values()].sort((a, b) => a.id - b.id);
  const records = chosen.filter((container) => container.url !== null && container.url !== "");
  return {
    records,
    withoutRemote: chosen.length - records.length,
    olderVersions: all.length - chosen.length,
  };
}

function newEntry(container: Container): RefreshEntry {
  return {
    container,
    status: "skipped",
    remote: null,
    remoteVersion: null,
    detail: null,
    hint: null,
    pulled: null,
    notes: [],
    warnings: [],
  };
}

// What the record's client would ask; null (and the entry says why) when nothing can be.
function planCheck(
  entry: RefreshEntry,
  client: RemoteClient | null,
): Omit<Planned, "entry"> | null {
  const container = entry.container;
  if (client === null || client.check === undefined) {
    entry.detail = client === null
      ? `it came from the client '${container.client}', which sregistry does not have`
      : `the ${client.name} client cannot check an image`;
    return null;
  }
  let name: ImageName;
  try {
    name = parseImageName(container.uri);
  } catch {
    entry.detail = "its name is not one sregistry accepts";
    return null;
  }
  let plan: CheckPlan;
  try {
    plan = client.check({
      name,
      url: container.url!,
      metadata: container.metadata,
      size: container.size,
      md5: container.md5,
    });
  } catch (error) {
    if (!(error instanceof SregistryError)) throw error;
    fail(entry, error);
    return null;
  }
  if (plan.endpoint === null) {
    entry.detail = plan.reason;
    return null;
  }
  entry.remote = client.name === "http" || client.name === "https"
    ? plan.uri
    : `${client.name}://${plan.uri}`;
  return { client, plan };
}

// Runs the checks, `jobs` at a time and PER_REMOTE per remote, remotes taken in turn.
async function askRemotes(planned: Planned[], options: RefreshOptions): Promise<void> {
  const total = planned.length;
  let done = 0;
  options.onChecked?.(done, total);
  const unreachable = new Map<string, string>();
  const perRemote = new Map<string, Limiter>();
  const queue = inTurn(planned);
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      const { endpoint } = item.plan;
      if (!perRemote.has(endpoint)) perRemote.set(endpoint, limiter(PER_REMOTE));
      await perRemote.get(endpoint)!(() => ask(item, unreachable));
      options.onChecked?.(++done, total);
    }
  };
  const workers = Math.max(1, Math.min(options.jobs, planned.length));
  await Promise.all(Array.from({ length: workers }, worker));
}

async function ask(item: Planned, unreachable: Map<string, string>): Promise<void> {
  const { entry, plan } = item;
  const down = unreachable.get(plan.endpoint);
  if (down !== undefined) {
    entry.status = "failed";
    entry.detail = `not asked: ${plan.endpoint} did not answer earlier (${down})`;
    return;
  }
  let check: RemoteCheck;
  try {
    check = await plan.run();
  } catch (error) {
    if (error instanceof InterruptedError || !(error instanceof SregistryError)) throw error;
    fail(entry, error);
    if (error instanceof RemoteError && isOutage(error)) {
      unreachable.set(plan.endpoint, error.message);
    }
    return;
  }
  entry.status = check.state;
  entry.remoteVersion = check.remoteVersion;
  entry.detail = check.reason;
}

// A remote that did not answer at all, failed with 5xx, or rate-limited us past the retries.
function isOutage(error: RemoteError): boolean {
  return error instanceof UnreachableError ||
    (error.status !== undefined && (error.status === 429 || error.status >= 500));
}

// Fetches the newer image of an outdated record; a remote-only record records it instead.
async function pullNewer(
  registry: Registry,
  item: Planned,
  options: RefreshOptions,
): Promise<void> {
  const { entry, client, plan } = item;
  if (entry.container.image === null && !client.capabilities.has("record")) {
    entry.hint = `'sregistry pull ${entry.remote}' downloads it`;
    return;
  }
  options.onPull?.(entry);
  try {
    if (entry.container.image === null) {
      const recorded = await recordRemote(registry, client, plan.uri);
      entry.notes.push(...recorded.remote.notes ?? []);
      entry.status = "updated";
      entry.pulled = { container: recorded.container, path: null };
      return;
    }
    const pulled = await pullImage(registry, client, plan.uri, {
      force: false,
      nameHint: plan.nameHint,
      http: options.environment.http,
      onProgress: options.onProgress,
      onWait: options.onWait,
    });
    entry.notes.push(...pulled.notes);
    entry.warnings.push(...pulled.warnings ?? []);
    if (pulled.container.id === entry.container.id) {
      // A plain URL whose validators changed but whose bytes did not: the record now keeps the
      // new validators, so the next refresh finds it current.
      entry.status = "current";
      entry.detail = "the server's file changed its validators, not its content";
      return;
    }
    entry.status = "updated";
    entry.pulled = { container: pulled.container, path: pulled.path };
  } catch (error) {
    if (error instanceof InterruptedError || !(error instanceof SregistryError)) throw error;
    fail(entry, error);
  }
}

function fail(entry: RefreshEntry, error: SregistryError): void {
  entry.status = "failed";
  entry.detail = error.message;
  entry.hint = error.hint ?? null;
}

// One remote after another, so a long list for one remote does not hold up the others.
function inTurn(planned: Planned[]): Planned[] {
  const byRemote = new Map<string, Planned[]>();
  for (const item of planned) {
    const list = byRemote.get(item.plan.endpoint) ?? [];
    list.push(item);
    byRemote.set(item.plan.endpoint, list);
  }
  const lists = [...byRemote.values()];
  const order: Planned[] = [];
  for (let round = 0; order.length < planned.length; round++) {
    for (const list of lists) if (round < list.length) order.push(list[round]);
  }
  return order;
}

type Limiter = (work: () => Promise<void>) => Promise<void>;

// Runs at most `limit` pieces of work at a time; the others wait in order.
function limiter(limit: number): Limiter {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    while (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      await work();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
