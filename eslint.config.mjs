import { defineConfig, globalIgnores } from "eslint/config";
import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

/** `lib/` depends on nothing above it: the app's layers point one way (docs/architecture.md). */
const LAYERS_ABOVE_LIB = {
  regex: "^(@/|(\\.\\./)+)(inngest|app|bench)(/|$)",
  message: "lib/ must not import from inngest/, app/ or bench/: take what you need as an argument (e.g. the event sender).",
};

export default defineConfig([
  ...nextVitals,
  ...nextTs,
  {
    rules: {
      // `const { omitted: _omitted, ...rest } = row` is how a field is left out.
      "@typescript-eslint/no-unused-vars": ["warn", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  {
    files: ["lib/**/*.{ts,tsx}"],
    rules: { "no-restricted-imports": ["error", { patterns: [LAYERS_ABOVE_LIB] }] },
  },
  {
    // Not React: test fixtures named use…() register vitest hooks, and tests read untyped JSON answers.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "react-hooks/rules-of-hooks": "off", "@typescript-eslint/no-explicit-any": "off" },
  },
  globalIgnores([".next/**", "out/**", "build/**", "next-env.d.ts", ".data/**", "test-results/**"]),
]);
