/**
 * HTTP errors: every client mistake is an ApiError with a stable code; `toApiError` maps the domain's typed
 * errors onto them through one catalogue that each feature registers its errors into (registerHttpError, next
 * to where the error is defined), so this module imports no feature. Internal errors never leak their message
 * (expose = status < 500).
 */
import { ZodError, type z } from 'zod';
import { httpMappingOf } from './error-catalogue';
import { StoreContentionError, isStoreContention } from './store-contention';

export { registerHttpError, type HttpErrorMapping } from './error-catalogue';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  readonly expose: boolean;
  /** Response headers that belong to this error (`allow` on a 405, `retry-after` on a retryable refusal). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, details?: unknown, options?: ErrorOptions & { headers?: Record<string, string> }) {
    super(message, options);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.expose = status < 500;
    this.headers = options?.headers ?? {};
  }
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

/** The field path of a zod issue, as a caller would write it (`usage.users`, `body`). */
function fieldOf(path: readonly PropertyKey[], root: string): string {
  return path.length === 0 ? root : path.map(String).join('.');
}

const TYPE_NAMES: Readonly<Record<string, string>> = { string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false', object: 'an object', array: 'an array' };

function typeOf(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'an array';
  if (typeof input === 'number' && !Number.isFinite(input)) return String(input);
  return typeof input === 'object' ? 'an object' : `a ${typeof input}`;
}

/**
 * zod's messages in the API's words, for the schemas that set none of their own: which type a field takes
 * (and what it got), which values an enum allows. Pass it to `safeParse` as `error` with `reportInput: true`.
 */
export const explainIssue: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_type') return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected} (got ${typeOf(issue.input)})`;
  if (issue.code === 'invalid_value') return `must be one of ${issue.values.map(String).join(', ')}`;
  return undefined;
};

/** A value that is not there at all: the one message is "required", whatever the field's own messages say. */
function isMissing(issue: z.core.$ZodIssue): boolean {
  return (issue.code === 'invalid_type' || issue.code === 'invalid_value') && 'input' in issue && issue.input === undefined;
}

/** One field's mistake, as `details` lists it. */
export interface FieldError {
  readonly in: 'body' | 'query' | 'path';
  readonly field: string;
  readonly message: string;
}

/** A 400 naming every field and why. */
export function fieldErrors(part: FieldError['in'], details: readonly FieldError[]): ApiError {
  const summary = details.map((d) => `${d.field}: ${d.message}`).join('; ');
  return new ApiError(400, 'VALIDATION_FAILED', `The request ${part} is invalid: ${summary}`, details);
}

/** Turn a zod failure on one part of the request into a 400 that names every field and why. */
export function validationError(error: ZodError, part: 'body' | 'query' | 'path'): ApiError {
  const details = error.issues.flatMap((issue): FieldError[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ in: part, field: fieldOf([...issue.path, key], part), message: `Unknown field '${key}': remove it.` }));
    }
    return [{ in: part, field: fieldOf(issue.path, part), message: isMissing(issue) ? 'required' : issue.message }];
  });
  // One message per field and mistake: a value can fail two checks that explain it the same way.
  const unique = details.filter((detail, i) => details.findIndex((other) => other.field === detail.field && other.message === detail.message) === i);
  return fieldErrors(part, unique);
}

function fromCatalogue(error: Error): ApiError | undefined {
  const mapping = httpMappingOf(error);
  if (!mapping) return undefined;
  const status = typeof mapping.status === 'number' ? mapping.status : mapping.status(error);
  const code = mapping.code?.(error) ?? (error as { code?: unknown }).code;
  if (typeof code !== 'string') throw new TypeError(`${error.name} is registered for HTTP without a code.`);
  const message = mapping.message?.(error) ?? error.message;
  return new ApiError(status, code, message, mapping.details?.(error), { ...(status >= 500 ? { cause: error } : {}), ...(mapping.headers ? { headers: mapping.headers(error) } : {}) });
}

/** Map any thrown value onto the API's error contract. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof Error) {
    const mapped = fromCatalogue(error);
    if (mapped) return mapped;
  }
  if (error instanceof StoreContentionError || isStoreContention(error)) {
    return new ApiError(503, 'TENANT_BUSY', 'The database is busy with other changes to this tenant right now; nothing was changed. Retry in a moment.', undefined, { cause: error });
  }
  if (error instanceof ZodError) return validationError(error, 'body');
  return new ApiError(500, 'INTERNAL_ERROR', 'Something went wrong on our side; retry later or contact the operator.', undefined, { cause: error });
}
