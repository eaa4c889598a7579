/**
 * The refusals of a plan-change request (the API routes' service, not the workflow's steps): domain errors with
 * a stable code, which the HTTP error catalogue answers with the status of PLAN_CHANGE_REQUEST_ERRORS.
 */
import { registerHttpError } from '../shared/error-catalogue';

/** The refusals of a plan-change request, by stable code, with the HTTP status each answers with. */
export const PLAN_CHANGE_REQUEST_ERRORS = {
  SAME_PLAN: 400,
  INVALID_EFFECTIVE: 400,
  NO_SCHEDULED_PLAN_CHANGE: 404,
  PLAN_CHANGE_STARTED: 409,
  USAGE_EXCEEDS_PLAN: 422,
  WORKFLOW_UNAVAILABLE: 503,
  SCHEDULING_UNAVAILABLE: 503,
  CANCELLATION_INCOMPLETE: 503,
} as const;
export type PlanChangeRequestErrorCode = keyof typeof PLAN_CHANGE_REQUEST_ERRORS;

/** A plan-change request refused (or not finished), with its stable code, a message that says what to do, and details. */
export class PlanChangeRequestError extends Error {
  readonly code: PlanChangeRequestErrorCode;
  readonly details?: unknown;
  constructor(code: PlanChangeRequestErrorCode, message: string, details?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PlanChangeRequestError';
    this.code = code;
    this.details = details;
  }
}

registerHttpError(PlanChangeRequestError, { status: (error) => PLAN_CHANGE_REQUEST_ERRORS[error.code], details: (error) => error.details });
