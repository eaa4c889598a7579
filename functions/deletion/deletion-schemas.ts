/** Request schemas of the deletion routes (soft delete, its cancellation, legal holds); types inferred from them. */
import * as z from 'zod';
import { text, wholeNumber } from '../shared/schemas';
import { MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from './deletion-policy';
import { reasonSchema } from '../tenants/tenant-schemas';

/**
 * POST /tenants/{id}/deletion. `retentionDays`: a whole number of days within the deletion policy's bounds
 * (400 VALIDATION_FAILED naming them, like every numeric field); what depends on the tenant (at most 30 for a
 * GDPR tenant) is the policy's (retentionDaysFor), which answers 400 INVALID_RETENTION saying so.
 */
export const initiateDeletionBodySchema = z
  .object({
    retentionDays: wholeNumber(MIN_RETENTION_DAYS, MAX_RETENTION_DAYS, 'days').optional(),
    reason: reasonSchema,
  })
  .strict();
export type InitiateDeletionBody = z.infer<typeof initiateDeletionBodySchema>;

/** PUT /tenants/{id}/legal-hold: why (required: a hold must be justified), and on whose authority (default: the caller). */
export const legalHoldBodySchema = z
  .object({
    reason: text(500),
    by: text(200).optional(),
  })
  .strict();
export type LegalHoldBody = z.infer<typeof legalHoldBodySchema>;
