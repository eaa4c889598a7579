/**
 * The refusals of the deletion routes (soft delete cancelled, legal holds): domain errors with a stable code,
 * which the HTTP error catalogue answers with the status of DELETION_REQUEST_ERRORS.
 */
import { registerHttpError } from '../shared/error-catalogue';

/** The refusals of a deletion request, by stable code, with the HTTP status each answers with. */
export const DELETION_REQUEST_ERRORS = {
  NOT_DELETING: 409,
  DELETION_DEADLINE_PASSED: 409,
  ERASURE_STARTED: 409,
  TENANT_DELETED: 409,
  NO_LEGAL_HOLD: 404,
} as const;
export type DeletionRequestErrorCode = keyof typeof DELETION_REQUEST_ERRORS;

/** A deletion request refused, with its stable code, a message that says why and what is possible, and details. */
export class DeletionRequestError extends Error {
  readonly code: DeletionRequestErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: DeletionRequestErrorCode, message: string, details: Readonly<Record<string, unknown>>) {
    super(message);
    this.name = 'DeletionRequestError';
    this.code = code;
    this.details = details;
  }
}

registerHttpError(DeletionRequestError, { status: (error) => DELETION_REQUEST_ERRORS[error.code], details: (error) => error.details });
