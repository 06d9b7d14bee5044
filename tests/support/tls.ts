/**
 * A site's own certificate authority for tests: a CA and a server certificate for 127.0.0.1
 * signed by it, made with openssl in a folder the test owns.
 */
import { join } from "node:path";

/** The files `siteCertificates` writes. */
export interface SiteCertificates {
  /** The CA certificate, for DENO_CERT. */
  ca: string;
  /** The server certificate for IP 127.0.0.1. */
  cert: string;
  /** Its private key. */
  key: string;
}

/** Makes a CA and a 127.0.0.1 server certificate in `dir`. */
export function siteCertificates(dir: string): SiteCertificates {
  Deno.mkdirSync(dir, { recursive: true });
  const rsa = ["-newkey", "rsa:2048", "-nodes"];
  openssl(["req", "-x509", ...rsa, "-days", "2", "-subj", "/CN=Site CA"], dir, [
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  ]);
  openssl(["req", ...rsa, "-subj", "/CN=127.0.0.1"], dir, [
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  ]);
  Deno.writeTextFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  openssl(
    ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
    dir,
    ["-days", "2", "-extfile", "ext.cnf", "-out", "server.pem"],
  );
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}

function openssl(args: string[], cwd: string, more: string[]): void {
  const output = new Deno.Command("openssl", {
    args: [...args, ...more],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
}
