import { engineSuite } from "./support/scenarios";

// Every scenario but the crash, concurrently, on `inngest dev` (the crash has its own stack).
engineSuite("dev");
