/** A site's own certificate authority and a server certificate for 127.0.0.1, made by openssl. */
import { join } from "node:path";

/** Paths of the CA certificate (for DENO_CERT) and the server's certificate and key (PEM). */
export interface SiteCertificates {
  /** The CA certificate, as DENO_CERT names it. */
  ca: string;
  /** The server certificate for IP 127.0.0.1, signed by the CA. */
  cert: string;
  /** The server's private key. */
  key: string;
}

/** Makes a CA and a server certificate for 127.0.0.1 in `dir` (valid two days). */
export function siteCertificates(dir: string): SiteCertificates {
  Deno.mkdirSync(dir, { recursive: true });
  openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Site CA"]
      .concat(["-keyout", "ca.key", "-out", "ca.pem"]),
    dir,
  );
  openssl(
    ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key"]
      .concat(["-out", "server.csr"]),
    dir,
  );
  Deno.writeTextFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  openssl(
    ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"]
      .concat(["-days", "2", "-extfile", "ext.cnf", "-out", "server.pem"]),
    dir,
  );
  return { ca: join(dir, "ca.pem"), cert: join(dir, "server.pem"), key: join(dir, "server.key") };
}

function openssl(args: string[], cwd: string): void {
  const output = new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .outputSync();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
}
