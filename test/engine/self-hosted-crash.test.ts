import { crashSuite } from "./support/scenarios";

// Scenario 7 on a self-hosted `inngest start`, on a stack of its own: it kills the app.
crashSuite("self-hosted");
