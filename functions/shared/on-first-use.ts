/**
 * Something built on first use rather than when a Lambda container starts: an SDK loaded with `await import()`,
 * a client made from a secret. Cold init then pays only for what every invocation needs.
 */

/**
 * A function that resolves to what `build` resolves to, calling `build` only the first time (concurrent first
 * calls share it). A failed build is not kept: the next call builds again.
 */
export function onFirstUse<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () => {
    built ??= build().catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return built;
  };
}
