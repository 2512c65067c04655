import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

import { ConfigError, readConfig } from "@/lib/config";

/**
 * Endpoint signing secrets at rest: AES-256-GCM under `BATCHWATCH_ENCRYPTION_KEY` (32 bytes,
 * base64). During a key rotation the old key moves to `BATCHWATCH_ENCRYPTION_KEY_PREVIOUS`, so
 * values written under it still decrypt while they are re-encrypted under the new key.
 *
 * Stored form: `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts). `keyId` is a short hash of
 * the key, so decryption picks the right key without trying each one; the `v1.<keyId>` prefix is
 * authenticated as associated data, so it cannot be swapped either. The environment is read at
 * every call, so a rotated key takes effect without a restart.
 */

export const ENCRYPTION_KEY_VARIABLE = "BATCHWATCH_ENCRYPTION_KEY";
export const PREVIOUS_ENCRYPTION_KEY_VARIABLE = "BATCHWATCH_ENCRYPTION_KEY_PREVIOUS";

const FORMAT_VERSION = "v1";
const IV_BYTES = 12; // The GCM standard nonce size.
const TAG_BYTES = 16;

export type SecretBoxFailure = "malformed" | "unknown_key" | "tampered";

/**
 * A stored value that cannot be decrypted. Key configuration problems are {@link ConfigError}s
 * naming the variable instead. Messages never contain a key or a secret.
 */
export class SecretBoxError extends Error {
  readonly code: SecretBoxFailure;

  constructor(code: SecretBoxFailure, message: string) {
    super(message);
    this.name = "SecretBoxError";
    this.code = code;
  }
}

/** process.env, or any stand-in for it. */
export type Environment = Readonly<Record<string, string | undefined>>;

interface EncryptionKey {
  id: string;
  bytes: Buffer;
}

// Hashing for the id on every call is avoidable: keyed by the key itself.
const keyIds = new Map<string, string>();

/** The key as lib/config.ts decoded (and validated) it, with its id. */
function withId(bytes: Buffer | undefined): EncryptionKey | undefined {
  if (!bytes) return undefined;
  const cacheKey = bytes.toString("base64");
  let id = keyIds.get(cacheKey);
  if (!id) {
    id = createHash("sha256").update("batchwatch secret-box key id\0").update(bytes).digest("base64url").slice(0, 8);
    if (keyIds.size > 16) keyIds.clear();
    keyIds.set(cacheKey, id);
  }
  return { id, bytes };
}

function currentKey(env: Environment): EncryptionKey {
  const key = withId(readConfig(env).encryptionKey);
  if (!key) {
    throw new ConfigError(
      ENCRYPTION_KEY_VARIABLE,
      "is not set: it encrypts webhook secrets at rest (generate one with: openssl rand -base64 32)",
    );
  }
  return key;
}

function associatedData(keyId: string): Buffer {
  return Buffer.from(`${FORMAT_VERSION}.${keyId}`);
}

/** Encrypts under the current key with a fresh random IV. */
export function encryptSecret(plain: string, env: Environment = process.env): string {
  const key = currentKey(env);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.bytes, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(key.id));
  const ciphertext = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return [FORMAT_VERSION, key.id, iv.toString("base64url"), ciphertext.toString("base64url"), cipher.getAuthTag().toString("base64url")].join(".");
}

/** Decrypts a value written by {@link encryptSecret} under the current or the previous key. */
export function decryptSecret(stored: string, env: Environment = process.env): string {
  const parts = stored.split(".");
  if (parts.length !== 5 || parts[0] !== FORMAT_VERSION) {
    throw new SecretBoxError("malformed", "the stored secret is not in the v1 secret-box format");
  }
  const [, keyId, ivText, ciphertextText, tagText] = parts as [string, string, string, string, string];
  const iv = Buffer.from(ivText, "base64url");
  const tag = Buffer.from(tagText, "base64url");
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new SecretBoxError("malformed", "the stored secret has an invalid IV or tag");
  }

  const candidates = [currentKey(env), withId(readConfig(env).previousEncryptionKey)];
  const key = candidates.find((candidate) => candidate?.id === keyId);
  if (!key) {
    throw new SecretBoxError(
      "unknown_key",
      `the stored secret was encrypted under a key that is neither ${ENCRYPTION_KEY_VARIABLE} nor ${PREVIOUS_ENCRYPTION_KEY_VARIABLE}`,
    );
  }

  const decipher = createDecipheriv("aes-256-gcm", key.bytes, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData(keyId));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(Buffer.from(ciphertextText, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretBoxError("tampered", "the stored secret failed authentication (altered or corrupted)");
  }
}

/** True when `stored` was written under an older key and should be re-encrypted. */
export function needsReencryption(stored: string, env: Environment = process.env): boolean {
  return stored.split(".")[1] !== currentKey(env).id;
}
