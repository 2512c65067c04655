import { crashSuite } from "./support/scenarios";

// Scenario 7 on `inngest dev`, on a stack of its own: it kills the app.
crashSuite("dev");
