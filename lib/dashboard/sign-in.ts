import "server-only";
import { isValidApiKey } from "@/lib/auth/api-key";
import { readConfig } from "@/lib/config";

/** True when `apiKey` is one of the keys in BATCHWATCH_API_KEY (constant time; see lib/auth/api-key.ts). */
export function isAcceptedApiKey(apiKey: string): boolean {
  const keys = readConfig().apiKeys;
  return keys.length > 0 && isValidApiKey(apiKey, keys);
}
