import { randomBytes } from "node:crypto";

import { describe, expect, test } from "vitest";

import { ConfigError } from "@/lib/config";
import { decryptSecret, encryptSecret, type Environment, needsReencryption, SecretBoxError } from "@/lib/security/secret-box";

const newKey = () => randomBytes(32).toString("base64");
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

function envWith(current?: string, previous?: string): Environment {
  return { BATCHWATCH_ENCRYPTION_KEY: current, BATCHWATCH_ENCRYPTION_KEY_PREVIOUS: previous };
}

function thrownBy(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe("secret box", () => {
  test.each([
    ["a webhook secret", SECRET],
    ["an empty string", ""],
    ["unicode", "clé ✓ 🎉"],
    ["a long value", "x".repeat(10_000)],
  ])("round-trips %s", (_, plain) => {
    const env = envWith(newKey());
    const stored = encryptSecret(plain, env);
    expect(stored).toMatch(/^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/);
    expect(stored).not.toContain(plain || "\0");
    expect(decryptSecret(stored, env)).toBe(plain);
  });

  test("uses a fresh IV each time, so equal secrets do not look equal at rest", () => {
    const env = envWith(newKey());
    expect(encryptSecret(SECRET, env)).not.toBe(encryptSecret(SECRET, env));
  });

  test("reads process.env at each call", () => {
    const original = process.env.BATCHWATCH_ENCRYPTION_KEY;
    try {
      const stored = encryptSecret(SECRET);
      process.env.BATCHWATCH_ENCRYPTION_KEY = newKey();
      expect(thrownBy(() => decryptSecret(stored))).toMatchObject({ code: "unknown_key" });
      process.env.BATCHWATCH_ENCRYPTION_KEY_PREVIOUS = original;
      expect(decryptSecret(stored)).toBe(SECRET);
    } finally {
      process.env.BATCHWATCH_ENCRYPTION_KEY = original;
      delete process.env.BATCHWATCH_ENCRYPTION_KEY_PREVIOUS;
    }
  });

  test("after a rotation decrypts values written under the previous key and flags them for re-encryption", () => {
    const oldKey = newKey();
    const rotatedKey = newKey();
    const storedBefore = encryptSecret(SECRET, envWith(oldKey));
    const afterRotation = envWith(rotatedKey, oldKey);

    expect(decryptSecret(storedBefore, afterRotation)).toBe(SECRET);
    expect(needsReencryption(storedBefore, afterRotation)).toBe(true);

    const storedAfter = encryptSecret(SECRET, afterRotation);
    expect(needsReencryption(storedAfter, afterRotation)).toBe(false);
    expect(decryptSecret(storedAfter, envWith(rotatedKey))).toBe(SECRET);
  });

  test.each([
    ["the ciphertext", 3],
    ["the tag", 4],
    ["the IV", 2],
    ["the key id", 1],
  ])("detects a change to %s", (_, index) => {
    const env = envWith(newKey());
    const parts = encryptSecret(SECRET, env).split(".");
    const bytes = Buffer.from(parts[index]!, "base64url");
    bytes[0]! ^= 1;
    parts[index] = bytes.toString("base64url");
    const error = thrownBy(() => decryptSecret(parts.join("."), env));
    expect(error).toBeInstanceOf(SecretBoxError);
    expect((error as SecretBoxError).code).toMatch(/tampered|unknown_key/);
  });

  test("refuses a value encrypted under another key", () => {
    const stored = encryptSecret(SECRET, envWith(newKey()));
    expect(thrownBy(() => decryptSecret(stored, envWith(newKey(), newKey())))).toMatchObject({
      name: "SecretBoxError",
      code: "unknown_key",
    });
  });

  test.each(["plaintext-secret", "v2.abc.def.ghi.jkl", "v1.only.three", "v1.abcdefgh.AAAA.AAAA.AAAA"])(
    "refuses the malformed value %j",
    (stored) => {
      expect(thrownBy(() => decryptSecret(stored, envWith(newKey())))).toMatchObject({ code: "malformed" });
    },
  );

  test.each([
    ["missing", envWith(undefined), /BATCHWATCH_ENCRYPTION_KEY is not set/],
    ["blank", envWith("   "), /BATCHWATCH_ENCRYPTION_KEY is not set/],
    ["too short", envWith(randomBytes(16).toString("base64")), /BATCHWATCH_ENCRYPTION_KEY must be 32 random bytes/],
    ["not base64", envWith("this is not base64 at all!!"), /BATCHWATCH_ENCRYPTION_KEY must be 32 random bytes/],
  ])("names the variable when the key is %s, never the key", (_, env, message) => {
    const error = thrownBy(() => encryptSecret(SECRET, env));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
    const key = env.BATCHWATCH_ENCRYPTION_KEY?.trim();
    if (key) expect(error.message).not.toContain(key);
  });

  test("names the previous-key variable when it is invalid, never the key", () => {
    const badPrevious = "c2hvcnQ=";
    const env = envWith(newKey(), badPrevious);
    const storedUnderOtherKey = encryptSecret(SECRET, envWith(newKey()));
    const error = thrownBy(() => decryptSecret(storedUnderOtherKey, env));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/BATCHWATCH_ENCRYPTION_KEY_PREVIOUS must be 32 random bytes/);
    expect(error.message).not.toContain(badPrevious);
  });
});
