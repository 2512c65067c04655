/** Sets (or, for `undefined`, removes) environment variables. */
export function applyEnv(vars: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

/** Sets environment variables and returns a function that puts back the values they had before. */
export function replaceEnv(vars: Record<string, string | undefined>): () => void {
  const previous = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  applyEnv(vars);
  return () => applyEnv(previous);
}

/** Sets environment variables for the duration of `work`, restoring the previous values after. */
export async function withEnv<T>(vars: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
  const restore = replaceEnv(vars);
  try {
    return await work();
  } finally {
    restore();
  }
}
