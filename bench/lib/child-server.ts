import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * How every benchmark helper server runs as a child process: keep-alive connections, a random
 * loopback port announced as `READY {"port"}` on stdout (the parent waits for that line), and
 * never outliving the benchmark that started it.
 */
export function serveAsChild(server: Server): void {
  server.keepAliveTimeout = 30_000;
  server.listen(0, "127.0.0.1", () => {
    console.log(`READY ${JSON.stringify({ port: (server.address() as AddressInfo).port })}`);
  });
  process.on("disconnect", () => process.exit(0));
  setInterval(() => {
    if (process.ppid === 1) process.exit(0);
  }, 2_000).unref();
}
