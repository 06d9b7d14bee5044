/**
 * Writes the test fixtures in tests/fixtures/: `sregistry.db`, a database as the Python client
 * 0.2.39 leaves it (the exact DDL of reference §3.1, absolute image paths under
 * /home/user/.singularity/shub, metrics JSON, user_version 0), and `corrupt.db`, 8 KiB of
 * pseudo-random bytes. The output is deterministic; run it again after changing the rows:
 *
 *   deno run --allow-read --allow-write scripts/make_fixtures.ts
 */
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** The folder the fixtures are written to. */
export const FIXTURES = fileURLToPath(new URL("../tests/fixtures/", import.meta.url));

/** The home folder of the user whose database the fixture is; every absolute path starts here. */
export const PYTHON_HOME = "/home/user";

/** The storage root of the fixture's images (the Python client's default). */
export const PYTHON_STORAGE = `${PYTHON_HOME}/.singularity/shub`;

/** The DDL SQLAlchemy's `create_all` emits for the Python client's models (reference §3.1). */
export const PYTHON_DDL = `
CREATE TABLE collection (
	id INTEGER NOT NULL, name VARCHAR(150), token VARCHAR(50), created_at DATETIME,
	PRIMARY KEY (id), UNIQUE (name));
CREATE TABLE container (
	id INTEGER NOT NULL, created_at DATETIME, metrics TEXT NOT NULL,
	name VARCHAR(250) NOT NULL, tag VARCHAR(250) NOT NULL, image VARCHAR(250), url VARCHAR(500),
	uri VARCHAR(500), client VARCHAR(50) NOT NULL, version VARCHAR(250), collection_id INTEGER NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT _container_uc UNIQUE (collection_id, name, tag, client, version),
	FOREIGN KEY(collection_id) REFERENCES collection (id));
`;

/** One container row of the fixture, as the Python client stored it. */
export interface PythonRow {
  id: number;
  createdAt: string;
  collection: string;
  name: string;
  tag: string;
  /** Absolute path, or null for a remote-only record. */
  image: string | null;
  url: string | null;
  uri: string;
  client: string;
  /** The sha256 of the file, or "" when the record has neither file nor version. */
  version: string;
}

const HELLO_SHA256 = "6bb92117bded3da774363713657a629a9f38eac2e57cd47e1dcda21d3445c67d";
const TACOS_SHA256 = "2b80da154f163eebdcdc4e3be236bed5fa99963f70b724c80c2e0f4ce0a1e1dc";
const UBUNTU_SHA256 = "f957b19529906961933c5c30f8713c500a9bb5d9d0695c40d48c97a26a3594ec";

/** The collections of the fixture: id, name, token, created_at. */
export const PYTHON_COLLECTIONS: [number, string, string, string][] = [
  [1, "vsoch", "d554ed47-4b8d-4f6c-9f2e-3a1c2b7d9e10", "2026-11-21 11:05:11"],
  [2, "library", "0f3c9a2e-8d41-4b7a-a6c5-5e2d1b9f7c33", "2026-11-21 11:07:42"],
];

/** The container rows of the fixture. */
export const PYTHON_ROWS: PythonRow[] = [
  {
    id: 1,
    createdAt: "2026-11-21 11:05:11",
    collection: "vsoch",
    name: "hello-world",
    tag: "latest",
    image: `${PYTHON_STORAGE}/vsoch/hello-world/latest@${HELLO_SHA256}.sif`,
    url: "vsoch/hello-world",
    uri: `vsoch/hello-world:latest@${HELLO_SHA256}`,
    client: "hub",
    version: HELLO_SHA256,
  },
  {
    id: 2,
    createdAt: "2026-11-21 11:06:08",
    collection: "vsoch",
    name: "tacos",
    tag: "latest",
    image: `${PYTHON_STORAGE}/vsoch/tacos/latest@${TACOS_SHA256}.sif`,
    url: "http://127.0.0.1:18765/containers/1/download/secret-uuid",
    uri: `vsoch/tacos:latest@${TACOS_SHA256}`,
    client: "registry",
    version: TACOS_SHA256,
  },
  {
    // Moved out of storage with `sregistry mv`: stays absolute after the migration.
    id: 3,
    createdAt: "2026-11-21 11:07:42",
    collection: "library",
    name: "ubuntu",
    tag: "18.04",
    image: `${PYTHON_HOME}/images/ubuntu-18.04.sif`,
    url: "library/ubuntu",
    uri: `library/ubuntu:18.04@${UBUNTU_SHA256}`,
    client: "hub",
    version: UBUNTU_SHA256,
  },
  {
    // A remote-only record: no file and no version.
    id: 4,
    createdAt: "2026-11-21 11:08:30",
    collection: "vsoch",
    name: "remote",
    tag: "latest",
    image: null,
    url: "https://example.org/remote.sif",
    uri: "vsoch/remote:latest",
    client: "registry",
    version: "",
  },
];

/** The metrics JSON the Python client stores: the pre-version parse of the name. */
export function pythonMetrics(row: PythonRow): string {
  const url = `${row.collection}/${row.name}`;
  return JSON.stringify({
    collection: row.collection,
    original: `${url}:${row.tag}`,
    registry: null,
    image: row.name,
    url,
    tag: row.tag,
    version: null,
    storage: `${url}:${row.tag}.sif`,
    uri: `${url}:${row.tag}`,
    type: "container",
  });
}

/** Writes a Python-client database at `path` (replacing any file there). */
export function writePythonDatabase(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // not there yet
  }
  const db = new DatabaseSync(path);
  try {
    db.exec(PYTHON_DDL);
    const collection = db.prepare(
      "INSERT INTO collection (id, name, token, created_at) VALUES (?, ?, ?, ?)",
    );
    for (const row of PYTHON_COLLECTIONS) collection.run(...row);
    const ids = new Map(PYTHON_COLLECTIONS.map(([id, name]) => [name, id]));
    const container = db.prepare(`
      INSERT INTO container (id, created_at, metrics, name, tag, image, url, uri, client, version,
        collection_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const row of PYTHON_ROWS) {
      container.run(
        row.id,
        row.createdAt,
        pythonMetrics(row),
        row.name,
        row.tag,
        row.image,
        row.url,
        row.uri,
        row.client,
        row.version,
        ids.get(row.collection)!,
      );
    }
  } finally {
    db.close();
  }
}

/** 8 KiB of deterministic pseudo-random bytes (xorshift32): not a SQLite file. */
export function corruptDatabaseBytes(): Uint8Array {
  const bytes = new Uint8Array(8192);
  let state = 0x5eed1e55;
  for (let i = 0; i < bytes.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

if (import.meta.main) {
  Deno.mkdirSync(FIXTURES, { recursive: true });
  writePythonDatabase(join(FIXTURES, "sregistry.db"));
  Deno.writeFileSync(join(FIXTURES, "corrupt.db"), corruptDatabaseBytes());
  console.log(`wrote ${join(FIXTURES, "sregistry.db")} and ${join(FIXTURES, "corrupt.db")}`);
}
