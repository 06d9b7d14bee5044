/** A tunnelling proxy for tests, as HTTPS_PROXY names one, on 127.0.0.1. */

/** Where a tunnel really goes: by default the host and port asked for. */
export type ConnectRoute = (host: string, port: number) => { hostname: string; port: number };

/**
 * A tunnelling proxy on 127.0.0.1, as HTTPS_PROXY names: it answers CONNECT host:port, then
 * passes bytes both ways, to that host or to where `route` sends it (always 127.0.0.1 in tests).
 * `targets` lists what was asked for.
 */
export function startConnectProxy(
  route: ConnectRoute = (hostname, port) => ({ hostname, port }),
): { port: number; targets: string[] } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const targets: string[] = [];
  const tunnels: Promise<unknown>[] = [];
  const tunnel = async (client: Deno.Conn) => {
    let head = "";
    const buffer = new Uint8Array(4096);
    while (!head.includes("\r\n\r\n")) {
      const read = await client.read(buffer);
      if (read === null) return client.close();
      head += new TextDecoder().decode(buffer.subarray(0, read));
    }
    const target = /^CONNECT (\S+):(\d+) HTTP/.exec(head);
    if (!target) return client.close();
    targets.push(`${target[1]}:${target[2]}`);
    const upstream = await Deno.connect(route(target[1], Number(target[2])));
    await client.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
    await Promise.allSettled([
      client.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(client.writable),
    ]);
  };
  const accepting = (async () => {
    for await (const client of listener) tunnels.push(tunnel(client).catch(() => {}));
  })().catch(() => {}); // ends when the listener closes
  return {
    port: listener.addr.port,
    targets,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.allSettled(tunnels);
    },
  };
}
