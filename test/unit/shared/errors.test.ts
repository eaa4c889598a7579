/**
 * The API's error contract: every typed error of the domain reaches the caller as one status and code, with
 * the details a client acts on; anything else is a 500 that leaks nothing.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { BillingRejectedError, BillingTransientError } from '../../../functions/billing/billing-port';
import { LeaseRefusedError } from '../../../functions/leases/errors';
import { LEASE_RETRY_AFTER_SECONDS } from '../../../functions/leases/lease-schemas';
import { IllegalTransitionError, LifecycleInvariantError } from '../../../functions/lifecycle/errors';
import { OperationNotFoundError } from '../../../functions/operations/operation-store';
import { StoreContentionError } from '../../../functions/plan-change/errors';
import { SchedulerTransientError } from '../../../functions/scheduler/scheduler-port';
import { ApiError, toApiError } from '../../../functions/shared/errors';
import {
  InvalidCursorError,
  OperationOwnershipError,
  PlanChangeScheduledError,
  TenantAlreadyExistsError,
  TenantNotFoundError,
  VersionConflictError,
} from '../../../functions/tenants/errors';

const scheduled = { operationId: 'op_1', plan: 'starter', effectiveAt: '2026-12-01T00:00:00.000Z' };
const conflict = new TransactionCanceledException({ message: 'cancelled', $metadata: {}, CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }] });
const zodError = z.object({ plan: z.string() }).safeParse({ plan: 1 }).error as z.ZodError;

describe('Function: toApiError', () => {
  it.each<[string, number, string, unknown, unknown]>([
    ['IllegalTransitionError', 409, 'ILLEGAL_TRANSITION', new IllegalTransitionError('deleted', 'suspend', ['reactivate_deleted']), { currentState: 'deleted', event: 'suspend', allowedEvents: ['reactivate_deleted'] }],
    ['VersionConflictError', 409, 'VERSION_CONFLICT', new VersionConflictError('acme', 3, 4, 'active'), { expectedVersion: 3, currentVersion: 4, currentState: 'active' }],
    ['PlanChangeScheduledError', 409, 'PLAN_CHANGE_SCHEDULED', new PlanChangeScheduledError('acme', scheduled), { scheduledPlanChange: scheduled }],
    ['OperationOwnershipError', 409, 'OPERATION_IN_PROGRESS', new OperationOwnershipError('acme', 'upgrading', 'op_2'), { currentState: 'upgrading', operationId: 'op_2' }],
    ['LeaseRefusedError (blocked)', 409, 'TENANT_BLOCKED', new LeaseRefusedError('acme', 'blocked', { state: 'deleting' }), { reason: 'blocked', state: 'deleting' }],
    ['TenantNotFoundError', 404, 'TENANT_NOT_FOUND', new TenantNotFoundError('acme'), { tenantId: 'acme' }],
    ['TenantAlreadyExistsError', 409, 'TENANT_EXISTS', new TenantAlreadyExistsError('acme'), { tenantId: 'acme' }],
    ['OperationNotFoundError', 404, 'OPERATION_NOT_FOUND', new OperationNotFoundError('op_3'), { operationId: 'op_3' }],
    ['BillingRejectedError', 422, 'BILLING_REJECTED', new BillingRejectedError('Your card was declined.'), undefined],
    ['InvalidCursorError', 400, 'INVALID_CURSOR', new InvalidCursorError(), undefined],
  ])('should answer %s with %i %s and its details', (_, status, code, error, details) => {
    const mapped = toApiError(error);
    expect(mapped).toMatchObject({ status, code, message: (error as Error).message, expose: true });
    expect(mapped.details).toEqual(details);
  });

  it('should tell a lease refused in a read-only window when to retry', () => {
    const mapped = toApiError(new LeaseRefusedError('acme', 'read_only_window', { state: 'upgrading', readOnlyReason: 'plan change' }));
    expect(mapped).toMatchObject({ status: 409, code: 'TENANT_READ_ONLY', details: { reason: 'read_only_window', state: 'upgrading', readOnlyReason: 'plan change' } });
    expect(mapped.headers).toEqual({ 'retry-after': String(LEASE_RETRY_AFTER_SECONDS) });
  });

  it.each<[string, string, unknown]>([
    ['BillingTransientError', 'BILLING_UNAVAILABLE', new BillingTransientError('stripe down: ECONNRESET')],
    ['StoreContentionError', 'TENANT_BUSY', new StoreContentionError('write contention on tenant acme')],
    ['a TransactionConflict cancellation', 'TENANT_BUSY', conflict],
    ['SchedulerTransientError', 'SCHEDULING_UNAVAILABLE', new SchedulerTransientError('scheduler timeout')],
  ])('should answer %s with 503 %s, saying to retry and not leaking the cause', (_, code, error) => {
    const mapped = toApiError(error);
    expect(mapped).toMatchObject({ status: 503, code, message: expect.stringMatching(/[Rr]etry/), cause: error });
    expect(mapped.message).not.toContain((error as Error).message);
  });

  it('should answer a schema error as 400 VALIDATION_FAILED naming the field', () => {
    expect(toApiError(zodError)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', details: [expect.objectContaining({ in: 'body', field: 'plan' })] });
  });

  it.each<[string, string, unknown]>([
    ['LifecycleInvariantError', 'LIFECYCLE_INVARIANT_BROKEN', new LifecycleInvariantError('origin missing on an exporting tenant')],
    ['any other error', 'INTERNAL_ERROR', new Error('ECONNREFUSED 10.0.0.1:5432')],
    ['a thrown string', 'INTERNAL_ERROR', 'boom'],
  ])('should answer %s with 500 %s, never exposing its message', (_, code, error) => {
    const mapped = toApiError(error);
    expect(mapped).toMatchObject({ status: 500, code, expose: false });
    expect(mapped.message).not.toMatch(/ECONNREFUSED|origin missing|boom/);
  });

  it('should pass an ApiError through unchanged', () => {
    const error = new ApiError(405, 'METHOD_NOT_ALLOWED', 'Use GET.');
    expect(toApiError(error)).toBe(error);
  });
});
