import { afterAll, beforeAll, beforeEach } from "vitest";
import { isolateProviderEnv, setEnv } from "./env";
import { startFakeServer, type FakeServer } from "./fake-server";

/**
 * Registers, for the calling test file, a clean provider environment and one fake provider API:
 * started before the file's tests, emptied of routes and requests before each, closed after all.
 * `env`, given the server's URL, is the environment set before each test (the provider's key and
 * base URL). Returns the server; use it inside tests and hooks.
 */
export function useFakeProvider(env?: (url: string) => Record<string, string>): FakeServer {
  isolateProviderEnv();
  let started: FakeServer | undefined;
  const server = (): FakeServer => {
    if (!started) throw new Error("the fake provider server has not started yet");
    return started;
  };
  beforeAll(async () => {
    started = await startFakeServer();
  });
  afterAll(() => started?.close());
  beforeEach(() => {
    server().reset();
    if (env) setEnv(env(server().url));
  });
  return {
    get url() {
      return server().url;
    },
    get requests() {
      return server().requests;
    },
    route: (methodAndPath, handler) => server().route(methodAndPath, handler),
    json: (methodAndPath, body, status, headers) => server().json(methodAndPath, body, status, headers),
    reset: () => server().reset(),
    close: () => server().close(),
  };
}
