import * as clock from '../../shared/clock';
import { PLAN_LIMITS, usageViolations } from '../../plans/plan-catalog';
import { ApiError } from '../../shared/errors';
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { reportUsageBodySchema, tenantPathSchema } from '../tenant-schemas';
import { tenantStore } from '../tenant-service';

/** How far in the future a measurement may be dated (clock skew between the application plane and us). */
const FUTURE_SKEW_MS = 5 * 60 * 1000;

/**
 * PUT /tenants/{tenantId}/usage: the application plane reports what the tenant uses now (all four metrics).
 * Plan changes check it: a downgrade must fit it, and a downgrade scheduled for the period end is checked
 * against it again then. A report measured before the last one recorded changes nothing (`applied: false`).
 * The answer says where the tenant stands: over its plan's limits, and over the limits of a scheduled change.
 */
export const handler = apiRoute(
  { routeId: 'ReportUsage', params: tenantPathSchema, body: reportUsageBodySchema, ifMatch: true },
  async ({ params, body, expectedVersion }) => {
    const now = clock.now().getTime();
    if (body.measuredAt !== undefined && Date.parse(body.measuredAt) > now + FUTURE_SKEW_MS) {
      throw new ApiError(400, 'MEASURED_IN_FUTURE', `measuredAt ${body.measuredAt} is in the future; send the time the usage was measured (UTC), or omit it.`);
    }
    const measuredAt = new Date(body.measuredAt ?? now);
    const { tenant, applied } = await tenantStore().reportUsage(params.tenantId, body.usage, measuredAt.toISOString(), { expectedVersion });
    const scheduled = tenant.scheduledPlanChange;
    return jsonResponse(200, {
      tenantId: tenant.tenantId,
      applied,
      usage: tenant.usage,
      usageMeasuredAt: tenant.usageMeasuredAt ?? null,
      plan: tenant.plan,
      limits: PLAN_LIMITS[tenant.plan],
      violations: usageViolations(tenant.usage, tenant.plan),
      ...(scheduled ? { scheduledPlanChange: { ...scheduled, violations: usageViolations(tenant.usage, scheduled.plan) } } : {}),
    });
  },
);
