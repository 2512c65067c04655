import { createServer, type Server } from "node:http";
import net from "node:net";
import { neonConfig } from "@neondatabase/serverless";
import { WebSocketServer } from "ws";

/**
 * A WebSocket→TCP bridge so Neon's serverless `Pool` can reach a plain local Postgres, as Neon's
 * own proxy does in production. Each WebSocket carries one Postgres connection in clear text.
 */
export async function startNeonBridge(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket, request) => {
    const address = new URL(request.url ?? "/", "http://bridge").searchParams.get("address") ?? "";
    const [host, port] = address.split(":");
    const tcp = net.connect(Number(port), host);
    tcp.on("data", (data) => socket.send(data));
    tcp.on("close", () => socket.close());
    tcp.on("error", () => socket.close());
    socket.on("message", (data) => tcp.write(data as Buffer));
    socket.on("close", () => tcp.destroy());
    socket.on("error", () => tcp.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  neonConfig.wsProxy = (host, pgPort) => `127.0.0.1:${port}/v1?address=${host}:${pgPort}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = false;
  neonConfig.pipelineTLS = false;

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
