/**
 * What a remote client is: a name, the operations it supports, and those operations. Clients
 * only talk HTTP (through transfer/) and return data; storing images is pull.ts's job.
 */
import type { ImageName } from "../core/names.ts";
import type { Secrets } from "../config/secrets.ts";
import type { Env } from "../config/settings.ts";
import type { HttpOptions } from "../transfer/http.ts";
import type { Authorizer } from "../transfer/download.ts";

/** An operation a client may support. */
export type Capability = "pull" | "push" | "search" | "record" | "delete" | "labels";

/** A remote image, resolved from its manifest and ready to download or record. */
export interface RemoteImage {
  /**
   * The name to record it under (with the remote's version when it has one); null when the
   * remote's name has no sregistry form (an OCI tag ending in `.sif`): it can only be saved to a
   * file.
   */
  name: ImageName | null;
  /** Where the image file is downloaded from. */
  downloadUrl: string;
  /** The MD5 the remote promises for the file, checked after download. */
  expectedMd5: string | null;
  /** The manifest, kept as the record's metadata. */
  metadata: unknown;
  /** Headers the download needs (credentials are dropped on a redirect to another host). */
  headers?: Record<string, string>;
  /** Credentials asked for before each download request (a token that expires), when needed. */
  authorize?: Authorizer;
  /**
   * The remote's tag exactly as it spells it, when the name keeps it in lower case (OCI tags are
   * case-sensitive): a record made from another spelling of it is not this image.
   */
  remoteTag?: string;
  /** What the user should know about the answer, e.g. that it names another image than asked. */
  notes?: string[];
  /** The URL recorded (and printed by `get`) when it is not the download URL. */
  recordUrl?: string;
  /** An OCI layer: the file must have this digest and size, and be a SIF. */
  blob?: BlobCheck;
}

/** What an OCI layer must be, checked in the download pass before anything is recorded. */
export interface BlobCheck {
  /** `sha256:<hex>` of the file. */
  digest: string;
  /** Its size in bytes. */
  size: number;
  /** Files that may already hold it (Apptainer's cache); used only when they match. */
  copies: string[];
}

/** A table of search results, with the raw records for `--json`. */
export interface SearchResults {
  /** A title for the table, e.g. "Collections". */
  title: string;
  /** What was left out of the results and why (entries the remote should not have sent). */
  warnings?: string[];
  /** Column names. */
  columns: string[];
  /** Rows of cells. */
  rows: string[][];
  /** The records as the remote sent them. */
  records: unknown[];
}

/** What a push reports. */
export interface PushResult {
  /** The name pushed. */
  name: ImageName;
  /** MD5 of the local file, when the push computed it. */
  md5: string | null;
  /** Size in bytes. */
  size: number;
  /** What the remote reports after the upload (e.g. its version). */
  remoteMd5: string | null;
  /** A line from the server, e.g. "Upload Complete". */
  message: string;
  /** What a user pulls it back by, e.g. `oras://host/repo:tag@sha256:...`, when not the name. */
  reference?: string;
  /** The digest the remote names it by (an OCI manifest digest). */
  digest?: string;
}

/** Options of a push. */
export interface PushOptions {
  /** Called with bytes sent and the total. */
  onProgress?: (sent: number, total: number) => void;
  /** The target as typed, without its scheme (clients with their own name grammar parse it). */
  target?: string;
  /** `--tag` as typed. */
  tag?: string;
  /** The file's OCI layer digest when sregistry recorded it (an image it pulled from one). */
  knownLayer?: { digest: string; size: number } | null;
}

/** Options of a search. */
export interface SearchOptions {
  /** Ask for details that cost a request per result (digests, sizes), e.g. for `--json`. */
  detailed?: boolean;
}

/** What a record says of the image it came from, for a client to check against its remote. */
export interface RecordedImage {
  /** The record's name, with its version. */
  name: ImageName;
  /** The URL recorded with it (an image URL, or `oras://...@sha256:...`). */
  url: string;
  /** The metadata kept with it: a manifest, and what a plain download saved under `sregistry`. */
  metadata: unknown;
  /** Size of its image file in bytes, when known. */
  size: number | null;
  /** MD5 of its image file, when known. */
  md5: string | null;
}

/** What a remote says now of a recorded image. */
export interface RemoteCheck {
  /**
   * `current`: the remote has the same image; `outdated`: another one under that name; `gone`:
   * none; `unknown`: it answered, but with nothing the record can be compared with.
   */
  state: "current" | "outdated" | "gone" | "unknown";
  /** What the remote names its image by now (an MD5, a manifest digest, an ETag), if anything. */
  remoteVersion: string | null;
  /** How the answer was read, in a few words, for the report. */
  reason: string | null;
}

/** How a client would check a record: the remote it asks and the asking, or why it cannot. */
export type CheckPlan =
  | {
    /** The remote asked (`host[:port]`): requests to one are limited together. */
    endpoint: string;
    /** What `resolve` (and so a pull or a record) takes for the remote's image now. */
    uri: string;
    /** The name a plain-URL pull records it under. */
    nameHint?: string;
    /** Asks the remote. */
    run(): Promise<RemoteCheck>;
  }
  | {
    /** No remote is asked. */
    endpoint: null;
    /** Why the record cannot be checked, e.g. that it was recorded by hand with `--url`. */
    reason: string;
  };

/** What the environment gives every client. */
export interface ClientEnvironment {
  /** Environment variables. */
  env: Env;
  /** The secrets file (read lazily by whoever needs it). */
  secrets: () => Secrets;
  /** Timeouts, retries, User-Agent, interrupt signal. */
  http: HttpOptions;
}

/** A remote registry endpoint. */
export interface RemoteClient {
  /** Client name as shown in the banner and recorded with images. */
  readonly name: string;
  /** Operations this client supports. */
  readonly capabilities: ReadonlySet<Capability>;
  /** The base URL it talks to, for the banner and messages. */
  describe(): string;
  /** Resolves a name (without scheme) to a downloadable image (pull, record). */
  resolve?(uri: string, options: { nameHint?: string }): Promise<RemoteImage>;
  /** Lists what the remote has, optionally filtered. */
  search?(query: string | null, options?: SearchOptions): Promise<SearchResults>;
  /** Uploads a file under a name. */
  push?(file: string, name: ImageName, options: PushOptions): Promise<PushResult>;
  /** Deletes an image on the remote; returns what was deleted. */
  delete?(uri: string): Promise<string>;
  /** Lists labels, optionally by key and value. */
  labels?(key: string | null, value: string | null): Promise<SearchResults>;
  /** Plans asking the remote whether it still has the image a record came from (no I/O here). */
  check?(record: RecordedImage): CheckPlan;
}
