import { connect } from "node:net";

/**
 * Just enough of the Redis protocol (commands whose replies are one line each) to claim a database index for a self-hosted engine and empty
 * it afterwards, without a client library: the suite never touches an index it did not claim.
 */
export async function redisCommands(url: string, commands: string[][]): Promise<string[]> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port || 6379), hostname || "127.0.0.1");
  const payload = commands
    .map((args) => `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`)
    .join("");
  return new Promise((resolve, reject) => {
    let buffer = "";
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      buffer += chunk;
      // SELECT, DBSIZE, SET NX and FLUSHDB each answer one line (+OK, :n, $-1, -ERR …).
      const lines = buffer.split("\r\n").slice(0, -1);
      if (lines.length >= commands.length) {
        socket.end();
        resolve(lines.slice(0, commands.length));
      }
    });
    socket.write(payload);
  });
}

const CLAIM_KEY = "batchwatch:engine-suite:claim";

/** Claims the highest empty Redis database index (15 down to 1) and returns its URL. */
export async function claimRedisDatabase(base = process.env.ENGINE_REDIS_URL ?? "redis://127.0.0.1:6379"): Promise<{ url: string; release(): Promise<void> }> {
  for (let index = 15; index >= 1; index--) {
    const [, size] = await redisCommands(base, [["SELECT", String(index)], ["DBSIZE"]]);
    if (size !== ":0") continue;
    const [, claimed] = await redisCommands(base, [["SELECT", String(index)], ["SET", CLAIM_KEY, String(process.pid), "NX"]]);
    if (claimed !== "+OK") continue;
    const url = `${base.replace(/\/\d*$/, "")}/${index}`;
    return {
      url,
      // Only this index, which was empty when claimed: everything in it is the engine's.
      release: async () => void (await redisCommands(base, [["SELECT", String(index)], ["FLUSHDB"]])),
    };
  }
  throw new Error(`no empty Redis database index (1–15) on ${base} for the self-hosted engine`);
}
