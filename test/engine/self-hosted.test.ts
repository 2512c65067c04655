import { engineSuite } from "./support/scenarios";

// The same scenarios on a self-hosted `inngest start`: signing and event keys, its own Postgres
// database and Redis index, the app in cloud mode — the production path, with request signing on.
engineSuite("self-hosted");
