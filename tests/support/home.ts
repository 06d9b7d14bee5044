/** A temporary HOME with sregistry's folders inside it, removed when disposed. */
import { join } from "node:path";

/** A throw-away home folder for one test. */
export interface TempHome extends AsyncDisposable {
  /** The HOME folder. */
  path: string;
  /** Environment for the CLI: HOME plus SREGISTRY_* pointing inside it. */
  env: Record<string, string>;
  /** `$HOME/.singularity`, the default database folder. */
  database: string;
  /** `$HOME/.singularity/shub`, the default storage folder. */
  storage: string;
  /** Writes a file under HOME and returns its path. */
  file(name: string, content: string | Uint8Array): string;
}

/** Creates a temporary HOME; `await using home = await tempHome()`. */
export async function tempHome(): Promise<TempHome> {
  const path = await Deno.makeTempDir({ prefix: "sregistry-test-" });
  const database = join(path, ".singularity");
  return {
    path,
    env: { HOME: path },
    database,
    storage: join(database, "shub"),
    file(name, content) {
      const target = join(path, name);
      Deno.mkdirSync(join(target, ".."), { recursive: true });
      if (typeof content === "string") Deno.writeTextFileSync(target, content);
      else Deno.writeFileSync(target, content);
      return target;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}
