/**
 * The HTTP error catalogue: how each domain error class answers over HTTP, registered by its feature beside the
 * class (so an error that exists has its mapping). toApiError (errors.ts) reads it. This module imports nothing,
 * so registering costs the functions that never answer HTTP (the workflows' steps) no bundle and no cold init.
 */

/** How one domain error class answers over HTTP. */
export interface HttpErrorMapping<E extends Error> {
  readonly status: number | ((error: E) => number);
  /** The stable code; by default the error's own `code`. */
  readonly code?: (error: E) => string;
  /** The message; by default the error's own (give one when the error's words are not for callers). */
  readonly message?: (error: E) => string;
  readonly details?: (error: E) => unknown;
  readonly headers?: (error: E) => Record<string, string>;
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;
const catalogue: Array<{ readonly type: ErrorClass<Error>; readonly mapping: HttpErrorMapping<Error> }> = [];

/**
 * Register how errors of `type` (and its subclasses) answer over HTTP. Called by each feature beside its error
 * classes, so an error that exists has its mapping; the first registration that matches an error wins.
 */
export function registerHttpError<E extends Error>(type: ErrorClass<E>, mapping: HttpErrorMapping<E>): void {
  catalogue.push({ type, mapping: mapping as unknown as HttpErrorMapping<Error> });
}

/** The mapping of `error`'s class (or a parent class), if one is registered. */
export function httpMappingOf(error: Error): HttpErrorMapping<Error> | undefined {
  return catalogue.find(({ type }) => error instanceof type)?.mapping;
}
