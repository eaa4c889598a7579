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
 * PUT /tenants/{tenantId}/usage: the application plane (or an operator) reports what the tenant uses now (all
 * four metrics). Plan changes check it: a downgrade must fit it, and a downgrade scheduled for the period end is
 * checked against it again then. `measuredAt` after our clock is recorded as now (up to FUTURE_SKEW_MS ahead;
 * beyond, 400): a report cannot claim a time that has not come, and so outrank the reports after it.
 * An operator's report wins over the tenant's (tenant-store.ts reportUsage: it is applied whatever the tenant
 * reported, and holds against the tenant's reports for an hour); a report that loses changes nothing
 * (`applied: false`, `notApplied` says why). The answer says where the tenant stands: over its plan's limits,
 * and over the limits of a scheduled change.
 */
export const handler = apiRoute(
  { routeId: 'ReportUsage', params: tenantPathSchema, body: reportUsageBodySchema, ifMatch: true },
  async ({ params, body, expectedVersion, principal }) => {
    const now = clock.now().getTime();
    if (body.measuredAt !== undefined && Date.parse(body.measuredAt) > now + FUTURE_SKEW_MS) {
      throw new ApiError(400, 'MEASURED_IN_FUTURE', `measuredAt ${body.measuredAt} is in the future; send the time the usage was measured (UTC), or omit it.`);
    }
    const measuredAt = new Date(Math.min(body.measuredAt === undefined ? now : Date.parse(body.measuredAt), now));
    const reportedBy = principal.role === 'operator' ? 'operator' : 'tenant';
    const { tenant, applied, notApplied } = await tenantStore().reportUsage(params.tenantId, body.usage, measuredAt.toISOString(), { expectedVersion, reportedBy });
    const scheduled = tenant.scheduledPlanChange;
    return jsonResponse(200, {
      tenantId: tenant.tenantId,
      applied,
      usage: tenant.usage,
      usageMeasuredAt: tenant.usageMeasuredAt ?? null,
      ...(tenant.usageReport ? { usageReport: tenant.usageReport } : {}),
      ...(notApplied ? { notApplied } : {}),
      plan: tenant.plan,
      limits: PLAN_LIMITS[tenant.plan],
      violations: usageViolations(tenant.usage, tenant.plan),
      ...(scheduled ? { scheduledPlanChange: { ...scheduled, violations: usageViolations(tenant.usage, scheduled.plan) } } : {}),
    });
  },
);
