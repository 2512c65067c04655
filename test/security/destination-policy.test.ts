import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { isIP, type LookupFunction } from "node:net";

import { Agent, request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";

import { AppError } from "@/lib/errors";
import {
  isRefusedAddress,
  resetDestinationValidator,
  setDestinationValidator,
  validateWebhookUrl,
} from "@/lib/security/destination-policy";
import { createGuardedLookup, deliverRequest, RefusedAddressError, safeDispatcher } from "@/lib/security/safe-fetch";

const PUBLIC_V4 = "93.184.216.34";
const PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946";

/** A stand-in for DNS: known names answer fixed addresses, `nxdomain.*` fails, the rest is public. */
const fakeDns: Record<string, string[]> = {
  "rebind-loopback.example": ["127.0.0.1"],
  "metadata.example": ["169.254.169.254"],
  "mixed.example": [PUBLIC_V4, "10.0.0.1"],
  "mixed-v6.example": [PUBLIC_V6, "fd00::1"],
  "ula.example": ["fd00::1"],
  "mapped.example": ["::ffff:192.168.0.1"],
  "nat64.example": ["64:ff9b::a9fe:a9fe"],
  "cgnat.example": ["100.64.0.1"],
  "127.0.0.1.nip.io": ["127.0.0.1"],
  "empty.example": [],
  "example.com": [PUBLIC_V4],
  "v6.example.com": [PUBLIC_V6],
  "dual.example.com": [PUBLIC_V4, PUBLIC_V6],
};

async function resolve(hostname: string): Promise<string[]> {
  if (hostname.startsWith("nxdomain.")) throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
  return fakeDns[hostname.replace(/\.$/, "")] ?? [PUBLIC_V4];
}

async function refusal(url: string, options: Parameters<typeof validateWebhookUrl>[1] = { resolve }): Promise<AppError> {
  try {
    await validateWebhookUrl(url, options);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("unsafe_webhook_url");
    return error as AppError;
  }
  throw new Error(`expected ${url} to be refused`);
}

// [url, what the reason must say]
const HOSTILE_DESTINATIONS: [string, RegExp][] = [
  // Not a URL, or not a web URL
  ["not a url", /not a valid/],
  ["", /not a valid/],
  ["/relative/hook", /not a valid/],
  ["//example.com/hook", /not a valid/],
  ["ftp://example.com/hook", /scheme "ftp"/],
  ["file:///etc/passwd", /scheme "file"/],
  ["javascript:alert(1)", /scheme "javascript"/],
  ["data:text/plain,hello", /scheme "data"/],
  ["gopher://example.com:70/_", /scheme "gopher"/],
  ["ws://example.com/socket", /scheme "ws"/],
  ["http://example.com/hook", /must use https/],
  // Credentials
  ["https://u:p@example.com/hook", /credentials/],
  ["https://user@example.com/hook", /credentials/],
  ["https://:secret@example.com/hook", /credentials/],
  // Local and internal names
  ["https://localhost/hook", /local or internal name/],
  ["https://localhost./hook", /local or internal name/],
  ["https://LOCALHOST:8443/hook", /local or internal name/],
  ["https://foo.localhost/hook", /local or internal name/],
  ["https://printer.local/hook", /local or internal name/],
  ["https://db.internal/hook", /local or internal name/],
  ["https://metadata.google.internal/computeMetadata/v1/", /local or internal name/],
  ["https://router.home.arpa/", /local or internal name/],
  // Loopback in every IPv4 notation the URL parser accepts
  ["https://127.0.0.1/hook", /loopback/],
  ["https://127.0.0.1./hook", /loopback/],
  ["https://2130706433/hook", /loopback/],
  ["https://0x7f000001/hook", /loopback/],
  ["https://0177.0.0.1/hook", /loopback/],
  ["https://127.1/hook", /loopback/],
  ["https://0x7f.1/hook", /loopback/],
  ["https://127.000.000.001/hook", /loopback/],
  ["https://%31%32%37.0.0.1/hook", /loopback/],
  ["https://１２７.0.0.1/hook", /loopback/],
  ["https://127.255.255.254/hook", /loopback/],
  ["https://0/hook", /this network/],
  ["https://0.0.0.0/hook", /this network/],
  // Other refused IPv4 ranges
  ["https://10.0.0.1/hook", /private/],
  ["https://012.0.0.1/hook", /private/],
  ["https://172.16.0.1/hook", /private/],
  ["https://172.31.255.255/hook", /private/],
  ["https://192.168.1.1/hook", /private/],
  ["https://3232235777/hook", /private/],
  ["https://169.254.169.254/latest/meta-data/", /link-local/],
  ["https://0xa9fea9fe/latest/meta-data/", /link-local/],
  ["https://100.64.0.1/hook", /carrier-grade NAT/],
  ["https://100.127.255.255/hook", /carrier-grade NAT/],
  ["https://198.18.0.1/hook", /benchmarking/],
  ["https://198.19.255.255/hook", /benchmarking/],
  ["https://192.0.2.1/hook", /documentation/],
  ["https://198.51.100.7/hook", /documentation/],
  ["https://203.0.113.9/hook", /documentation/],
  ["https://192.0.0.8/hook", /IETF protocol/],
  ["https://224.0.0.1/hook", /multicast/],
  ["https://239.255.255.250/hook", /multicast/],
  ["https://255.255.255.255/hook", /broadcast/],
  ["https://240.0.0.1/hook", /reserved/],
  // IPv6 literals
  ["https://[::1]/hook", /loopback/],
  ["https://[0:0:0:0:0:0:0:1]/hook", /loopback/],
  ["https://[::]/hook", /unspecified/],
  ["https://[::ffff:127.0.0.1]/hook", /IPv4-mapped .*127\.0\.0\.1.*loopback/],
  ["https://[::ffff:7f00:1]/hook", /IPv4-mapped .*loopback/],
  ["https://[0:0:0:0:0:ffff:a9fe:a9fe]/hook", /IPv4-mapped .*169\.254\.169\.254.*link-local/],
  ["https://[::ffff:10.0.0.1]/hook", /IPv4-mapped .*private/],
  ["https://[::ffff:0:10.0.0.1]/hook", /IPv4-translated .*private/],
  ["https://[::127.0.0.1]/hook", /IPv4-compatible .*loopback/],
  ["https://[::192.168.0.1]/hook", /IPv4-compatible .*private/],
  ["https://[64:ff9b::127.0.0.1]/hook", /NAT64 .*loopback/],
  ["https://[64:ff9b::a9fe:a9fe]/hook", /NAT64 .*link-local/],
  ["https://[64:ff9b:1::10.0.0.1]/hook", /local-use NAT64/],
  ["https://[2002:7f00:1::]/hook", /6to4 .*loopback/],
  ["https://[2002:a9fe:a9fe::1]/hook", /6to4 .*link-local/],
  ["https://[2002:c0a8:101::1]/hook", /6to4 .*192\.168\.1\.1.*private/],
  ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", /Teredo/],
  ["https://[2001::c0a8:101]/hook", /Teredo/],
  ["https://[fe80::1]/hook", /link-local/],
  ["https://[febf:ffff::1]/hook", /link-local/],
  ["https://[fc00::1]/hook", /unique local/],
  ["https://[fd12:3456:789a::1]/hook", /unique local/],
  ["https://[fec0::1]/hook", /site-local/],
  ["https://[ff02::1]/hook", /multicast/],
  ["https://[2001:db8::1]/hook", /documentation/],
  ["https://[100::1]/hook", /discard/],
  ["https://[::2]/hook", /IPv4-compatible .*this network/],
  ["https://[4000::1]/hook", /reserved IPv6/],
  // Names whose DNS answers are refused, or that do not resolve
  // A resolved name's refusal says only that: never the address or its kind (no DNS oracle).
  ["https://rebind-loopback.example/hook", /^the host "rebind-loopback\.example" resolves to a private address$/],
  ["https://metadata.example/hook", /^the host "metadata\.example" resolves to a private address$/],
  ["https://mixed.example/hook", /^the host "mixed\.example" resolves to a private address$/],
  ["https://mixed-v6.example/hook", /^the host "mixed-v6\.example" resolves to a private address$/],
  ["https://ula.example/hook", /^the host "ula\.example" resolves to a private address$/],
  ["https://mapped.example/hook", /^the host "mapped\.example" resolves to a private address$/],
  ["https://nat64.example/hook", /^the host "nat64\.example" resolves to a private address$/],
  ["https://cgnat.example/hook", /^the host "cgnat\.example" resolves to a private address$/],
  ["https://127.0.0.1.nip.io/hook", /^the host "127\.0\.0\.1\.nip\.io" resolves to a private address$/],
  ["https://nxdomain.example/hook", /does not resolve/],
  ["https://empty.example/hook", /does not resolve/],
];

const PUBLIC_DESTINATIONS = [
  "https://example.com/hook",
  "https://example.com:8443/hooks/batch?tenant=1",
  "https://EXAMPLE.com./hook",
  "https://v6.example.com/hook",
  "https://dual.example.com/hook",
  "https://hooks.example.co.uk/a/b",
  `https://${PUBLIC_V4}/hook`,
  "https://1572395042/hook", // 93.184.216.34 in decimal
  `https://[${PUBLIC_V6}]/hook`,
  "https://[2001:4860:4860::8888]/hook",
  "https://[::ffff:93.184.216.34]/hook", // a public IPv4, merely written as IPv6
  "https://[64:ff9b::93.184.216.34]/hook",
  "https://[2002:5db8:d822::1]/hook", // 6to4 of 93.184.216.34
  "https://172.32.0.1/hook", // just outside 172.16.0.0/12
  "https://100.128.0.1/hook", // just outside 100.64.0.0/10
  "https://198.20.0.1/hook", // just outside 198.18.0.0/15
];

afterEach(() => resetDestinationValidator());

describe("validateWebhookUrl", () => {
  test(`the hostile table is large enough (${HOSTILE_DESTINATIONS.length} destinations)`, () => {
    expect(HOSTILE_DESTINATIONS.length).toBeGreaterThanOrEqual(60);
  });

  test.each(HOSTILE_DESTINATIONS)("refuses %j", async (url, reason) => {
    const error = await refusal(url);
    expect(error.message).toMatch(reason);
  });

  test.each(PUBLIC_DESTINATIONS)("accepts %s", async (url) => {
    await expect(validateWebhookUrl(url, { resolve })).resolves.toBeInstanceOf(URL);
  });

  test("relies on the URL parser to turn every IPv4 notation into dotted decimal", () => {
    for (const host of ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "127.000.000.001"]) {
      expect(new URL(`https://${host}/`).hostname).toBe("127.0.0.1");
    }
    expect(new URL("https://[::ffff:127.0.0.1]/").hostname).toBe("[::ffff:7f00:1]");
  });

  test("does not ask DNS about literal addresses or local names", async () => {
    const asked: string[] = [];
    const spy = async (host: string) => (asked.push(host), [PUBLIC_V4]);
    await refusal("https://127.1/", { resolve: spy });
    await refusal("https://db.internal/", { resolve: spy });
    await validateWebhookUrl(`https://${PUBLIC_V4}/`, { resolve: spy });
    expect(asked).toEqual([]);
  });

  test.each([
    "http://localhost:3000/hook",
    "http://127.0.0.1:8080/hook",
    "https://10.0.0.1/hook",
    "http://[::1]:3000/hook",
    "http://receiver.internal/hook",
  ])("with allowPrivate (development) accepts %s", async (url) => {
    await expect(validateWebhookUrl(url, { allowPrivate: true, resolve })).resolves.toBeInstanceOf(URL);
  });

  test.each([
    ["https://u:p@localhost/hook", /credentials/],
    ["ftp://localhost/hook", /scheme "ftp"/],
    ["file:///etc/passwd", /scheme "file"/],
    ["not a url", /not a valid/],
  ])("with allowPrivate still refuses %s", async (url, reason) => {
    expect((await refusal(url, { allowPrivate: true, resolve })).message).toMatch(reason);
  });
});

describe("pluggable destination validator", () => {
  const onlyTenantHosts = (url: URL) => {
    if (!url.hostname.endsWith(".tenant.example")) throw new Error(`${url.hostname} is not on the tenant allowlist`);
  };

  test("extend: a tenant allowlist narrows the default policy", async () => {
    setDestinationValidator(onlyTenantHosts, { mode: "extend" });
    await expect(validateWebhookUrl("https://hooks.tenant.example/", { resolve })).resolves.toBeInstanceOf(URL);
    expect((await refusal("https://example.com/")).message).toMatch(/not on the tenant allowlist/);
    // The default policy still runs first.
    expect((await refusal("https://127.0.0.1.tenant.example/", { resolve: async () => ["127.0.0.1"] })).message).toMatch(/private address/);
  });

  test("replace: a tenant allowlist decides alone, URL hygiene still applies", async () => {
    setDestinationValidator((url) => {
      if (url.hostname !== "hooks.corp.internal") throw new AppError("unsafe_webhook_url", "not the corporate hook host");
    }, { mode: "replace" });
    await expect(validateWebhookUrl("https://hooks.corp.internal/batch", { resolve })).resolves.toBeInstanceOf(URL);
    expect((await refusal("https://example.com/")).message).toBe("not the corporate hook host");
    expect((await refusal("https://u:p@hooks.corp.internal/")).message).toMatch(/credentials/);
  });

  test("reset brings back the default policy alone", async () => {
    setDestinationValidator(() => undefined, { mode: "replace" });
    await expect(validateWebhookUrl("https://db.internal/", { resolve })).resolves.toBeInstanceOf(URL);
    resetDestinationValidator();
    await refusal("https://db.internal/");
  });
});

describe("isRefusedAddress", () => {
  test.each([
    ["127.0.0.1", /loopback/],
    ["0177.0.0.1", /loopback/],
    ["2130706433", /loopback/],
    ["10.255.255.255", /private/],
    ["::1", /loopback/],
    ["[::1]", /loopback/],
    ["fe80::1%eth0", /link-local/],
    ["FE80::ABCD", /link-local/],
    ["::ffff:169.254.169.254", /IPv4-mapped/],
    ["::FFFF:A9FE:A9FE", /IPv4-mapped/],
    ["64:ff9b::192.168.0.1", /NAT64/],
    ["2002:0a00:0001::", /6to4 .*10\.0\.0\.1/],
    ["2001:0000::1", /Teredo/],
    ["100::", /discard/],
    ["ff00::", /multicast/],
    ["example.com", /not an IP/],
    ["", /not an IP/],
    ["1.2.3.4.5", /not an IP/],
  ])("refuses %j", (address, reason) => {
    expect(isRefusedAddress(address)).toMatch(reason);
  });

  test.each([
    "93.184.216.34",
    "1.1.1.1",
    "8.8.8.8",
    "172.15.255.255",
    "172.32.0.0",
    "100.63.255.255",
    "198.17.255.255",
    "192.0.3.1",
    "223.255.255.255",
    PUBLIC_V6,
    "2001:4860:4860::8888",
    "::ffff:93.184.216.34",
    "64:ff9b::8.8.8.8",
  ])("accepts the public address %s", (address) => {
    expect(isRefusedAddress(address)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Connection time: redirects and DNS rebinding
// ---------------------------------------------------------------------------------------------

interface LocalServer {
  server: Server;
  url: string;
  port: number;
  requests: IncomingMessage[];
}

async function startServer(handler: Parameters<typeof createServer>[1]): Promise<LocalServer> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler!(req, res);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return { server, port, url: `http://127.0.0.1:${port}`, requests };
}

/** A dns.lookup stand-in answering `answers[n]` to the n-th call (the last one from then on). */
function scriptedLookup(answers: string[][]): LookupFunction & { calls: number } {
  const lookup = ((hostname, options, callback) => {
    const addresses = answers[Math.min(lookup.calls++, answers.length - 1)]!.map((address) => ({
      address,
      family: isIP(address),
    }));
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  }) as LookupFunction & { calls: number };
  lookup.calls = 0;
  return lookup;
}

describe("delivery at connection time", () => {
  let internalTarget: LocalServer;
  let redirector: LocalServer;
  let receiver: LocalServer;

  beforeAll(async () => {
    internalTarget = await startServer((_, res) => res.end("internal secrets"));
    redirector = await startServer((req, res) => {
      const location = req.url === "/to-metadata" ? "http://169.254.169.254/latest/meta-data/" : `${internalTarget.url}/admin`;
      res.writeHead(302, { location }).end();
    });
    receiver = await startServer((req, res) => {
      if (req.url === "/large") res.end("é".repeat(5000));
      else if (req.url === "/slow") setTimeout(() => res.end("late"), 2_000);
      else res.writeHead(204).end();
    });
  });

  afterAll(async () => {
    for (const { server } of [internalTarget, redirector, receiver]) {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });

  test.each([
    ["cloud metadata", "/to-metadata", "http://169.254.169.254/latest/meta-data/"],
    ["another internal service", "/to-internal", null],
  ])("returns a 302 to %s as-is, without following it", async (_, path, location) => {
    const result = await deliverRequest(`${redirector.url}${path}`, { body: "{}", timeoutMs: 3_000, allowPrivate: true });
    expect(result).toMatchObject({ ok: true, accepted: false, status: 302 });
    if (result.ok) expect(result.headers.location).toBe(location ?? `${internalTarget.url}/admin`);
    expect(internalTarget.requests).toHaveLength(0);
  });

  test("refuses a name whose DNS answer turns private between the check and the connection", async () => {
    const lookup = scriptedLookup([[PUBLIC_V4], ["127.0.0.1"]]);
    const resolveThroughLookup = (host: string) =>
      new Promise<string[]>((done) => lookup(host, { all: true }, (_, addresses) => done((addresses as { address: string }[]).map((a) => a.address))));

    // At registration the name is public…
    await expect(validateWebhookUrl("https://rebind.test/hook", { resolve: resolveThroughLookup })).resolves.toBeInstanceOf(URL);

    // …at delivery it answers 127.0.0.1, where a server is listening: the dispatcher must refuse.
    const dispatcher = safeDispatcher({ lookup });
    const url = `http://rebind.test:${receiver.port}/hook`;
    await expect(request(url, { method: "POST", body: "{}", dispatcher })).rejects.toBeInstanceOf(RefusedAddressError);
    const result = await deliverRequest(url, { body: "{}", timeoutMs: 3_000, allowPrivate: true, dispatcher });
    expect(result).toMatchObject({ ok: false, error: "refused_address", message: "refused to connect to rebind.test: it resolves to a private address" });
    expect(receiver.requests).toHaveLength(0);
  });

  test("the same rebinding lookup does reach the server without the guard (the test is meaningful)", async () => {
    const unguarded = new Agent({ connect: { lookup: scriptedLookup([["127.0.0.1"]]) } });
    try {
      const response = await request(`http://rebind.test:${receiver.port}/control`, { dispatcher: unguarded });
      await response.body.dump();
      expect(response.statusCode).toBe(204);
      // Only the lookup is replaced: the Host header still names the host.
      expect(receiver.requests.at(-1)?.headers.host).toBe(`rebind.test:${receiver.port}`);
    } finally {
      await unguarded.close();
      receiver.requests.length = 0;
    }
  });

  test("refuses a literal refused address, which never goes through DNS", async () => {
    const result = await deliverRequest(`${receiver.url}/hook`, { body: "{}", timeoutMs: 3_000, allowPrivate: true, dispatcher: safeDispatcher() });
    expect(result).toMatchObject({ ok: false, error: "refused_address" });
    expect(receiver.requests).toHaveLength(0);
  });

  test("refuses when any one of several DNS answers is refused", async () => {
    const dispatcher = safeDispatcher({ lookup: scriptedLookup([[PUBLIC_V4, "10.0.0.1"]]) });
    const result = await deliverRequest(`http://multi.test:${receiver.port}/`, { timeoutMs: 3_000, allowPrivate: true, dispatcher });
    expect(result).toMatchObject({ ok: false, error: "refused_address", message: expect.stringMatching(/resolves to a private address$/) });
  });

  test("reuses one keep-alive Agent per options", () => {
    const lookup = scriptedLookup([[PUBLIC_V4]]);
    expect(safeDispatcher()).toBe(safeDispatcher());
    expect(safeDispatcher({ lookup })).toBe(safeDispatcher({ lookup }));
    expect(safeDispatcher({ lookup })).not.toBe(safeDispatcher());
  });

  test("reports a timeout as a result, not an exception", async () => {
    const result = await deliverRequest(`${receiver.url}/slow`, { body: "{}", timeoutMs: 200, allowPrivate: true });
    expect(result).toMatchObject({ ok: false, error: "timeout" });
    expect(result.durationMs).toBeLessThan(1_500);
  });

  test("reports a closed port as a connection failure", async () => {
    const closed = await startServer(() => undefined);
    await new Promise((done) => closed.server.close(done));
    const result = await deliverRequest(`${closed.url}/`, { body: "{}", timeoutMs: 3_000, allowPrivate: true });
    expect(result).toMatchObject({ ok: false, error: "connection" });
  });

  test("truncates the response body to 4 KB without splitting a character", async () => {
    const result = await deliverRequest(`${receiver.url}/large`, { method: "GET", timeoutMs: 3_000, allowPrivate: true });
    expect(result).toMatchObject({ ok: true, accepted: true, status: 200 });
    if (result.ok) {
      expect(Buffer.byteLength(result.bodyText)).toBe(4096);
      expect(result.bodyText).toBe("é".repeat(2048));
    }
  });

  test.each([
    ["http without allowPrivate", "http://example.com/hook", {}, "unsafe_url"],
    ["credentials", "https://u:p@example.com/hook", {}, "unsafe_url"],
    ["a non-web scheme", "file:///etc/passwd", { allowPrivate: true }, "unsafe_url"],
    ["not a URL", "nope", {}, "invalid_url"],
  ])("refuses %s before connecting", async (_, url, options, error) => {
    expect(await deliverRequest(url, { timeoutMs: 1_000, ...options })).toMatchObject({ ok: false, error });
  });
});

describe("createGuardedLookup", () => {
  test.each([
    ["all addresses", { all: true }, [{ address: PUBLIC_V4, family: 4 }, { address: PUBLIC_V6, family: 6 }]],
    ["one address", {}, PUBLIC_V4],
  ])("answers %s when every address is public", async (_, options, expected) => {
    const guarded = createGuardedLookup(scriptedLookup([[PUBLIC_V4, PUBLIC_V6]]));
    const answer = await new Promise((done, fail) =>
      guarded("public.test", options, (error, address) => (error ? fail(error) : done(address))),
    );
    expect(answer).toEqual(expected);
  });

  test.each([
    ["all addresses", { all: true }],
    ["one address", {}],
  ])("fails with RefusedAddressError when asked for %s and one answer is refused", async (_, options) => {
    // The private address is second: a lookup asked for one address would never have seen it.
    const guarded = createGuardedLookup(scriptedLookup([[PUBLIC_V4, "192.168.0.10"]]));
    const error = await new Promise((done) => guarded("sneaky.test", options, (failure) => done(failure)));
    expect(error).toBeInstanceOf(RefusedAddressError);
    expect((error as RefusedAddressError).address).toBe("192.168.0.10");
    // Its message is recorded on the delivery attempt that key holders read: no address in it.
    expect((error as RefusedAddressError).message).toBe("refused to connect to sneaky.test: it resolves to a private address");
  });
});
