/**
 * Usage reports of the application plane (PUT /tenants/{id}/usage), through the local API on DynamoDB Local:
 * what a downgrade is checked against, and what the answer tells the application plane.
 */
import { SimulatedClock, installLocalClock } from '../../infra/local/local-clock';
import { ApiHarness } from '../support/api-harness';

const api = new ApiHarness();
beforeAll(() => api.start());
afterAll(() => api.stop());

/** `seconds` from now, as an ISO time. */
const inSeconds = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

type Body = Record<string, unknown> & { error?: { code: string; message: string; details?: unknown } };

const usage = (users: number) => ({ queriesPerMonth: 1_000, storageGb: 1.5, documents: 400, users });

describe('HTTPS API: usage reports', () => {
  it('should record the usage the tenant’s own application reports, and a downgrade should be checked against it', async () => {
    // Prepare
    await api.createTenant('usage-grows', { plan: 'professional', usage: usage(3) });
    const token = api.tenantToken('usage-grows');

    // Act
    const reported = await api.request<Body>('PUT', '/tenants/usage-grows/usage', { token, body: { usage: usage(25) } });
    const downgrade = await api.request<Body>('POST', '/tenants/usage-grows/plan', { body: { plan: 'starter' } });

    // Assess
    expect(reported.status).toBe(200);
    expect(reported.body).toMatchObject({ tenantId: 'usage-grows', applied: true, usage: usage(25), plan: 'professional', violations: [] });
    expect((await api.request<Body>('GET', '/tenants/usage-grows')).body).toMatchObject({ usage: usage(25), usageMeasuredAt: reported.body.usageMeasuredAt, version: 1 });
    expect(downgrade.status).toBe(422);
    expect(downgrade.body.error?.message).toContain('users: 25 exceeds the starter limit of 10');
  });

  it('should keep the latest measurement when reports arrive out of order', async () => {
    // Prepare
    await api.createTenant('usage-order', { plan: 'starter' });
    const later = await api.request<Body>('PUT', '/tenants/usage-order/usage', { body: { usage: usage(7), measuredAt: '2026-11-01T10:05:00Z' } });

    // Act
    const earlier = await api.request<Body>('PUT', '/tenants/usage-order/usage', { body: { usage: usage(2), measuredAt: '2026-11-01T10:00:00Z' } });

    // Assess
    expect(later.body).toMatchObject({ applied: true, usage: usage(7) });
    expect(earlier.status).toBe(200);
    expect(earlier.body).toMatchObject({ applied: false, usage: usage(7), usageMeasuredAt: '2026-11-01T10:05:00.000Z' });
  });

  it('should warn that usage exceeds the plan, and a scheduled downgrade’s limits, without refusing the report', async () => {
    // Prepare
    await api.createTenant('usage-warn', { plan: 'professional', usage: usage(3) });
    const scheduled = await api.request<Body>('POST', '/tenants/usage-warn/plan', { body: { plan: 'starter' } });
    expect(scheduled.body.status).toBe('scheduled');

    // Act
    const reported = await api.request<Body>('PUT', '/tenants/usage-warn/usage', { body: { usage: usage(60) } });

    // Assess
    expect(reported.body).toMatchObject({
      applied: true,
      violations: [{ metric: 'users', current: 60, limit: 50, message: 'users: 60 exceeds the professional limit of 50' }],
      scheduledPlanChange: { plan: 'starter', operationId: scheduled.body.operationId, violations: [{ metric: 'users', current: 60, limit: 10 }] },
    });
  });

  it('should refuse another tenant’s token, an incomplete report and a measurement dated in the future, changing nothing', async () => {
    // Prepare
    await api.createTenant('usage-guarded', { plan: 'starter', usage: usage(1) });
    const before = await api.tableSnapshot();

    // Act
    const foreign = await api.request<Body>('PUT', '/tenants/usage-guarded/usage', { token: api.tenantToken('someone-else'), body: { usage: usage(9) } });
    const partial = await api.request<Body>('PUT', '/tenants/usage-guarded/usage', { body: { usage: { users: 9 } } });
    const negative = await api.request<Body>('PUT', '/tenants/usage-guarded/usage', { body: { usage: { ...usage(9), documents: -1 } } });
    const future = await api.request<Body>('PUT', '/tenants/usage-guarded/usage', { body: { usage: usage(9), measuredAt: '2099-01-01T00:00:00Z' } });
    const missing = await api.request<Body>('PUT', '/tenants/no-such-tenant/usage', { body: { usage: usage(9) } });

    // Assess
    expect([foreign.status, foreign.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    expect([partial.status, partial.body.error?.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(partial.body.error?.message).toContain('queriesPerMonth');
    expect([negative.status, negative.body.error?.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect([future.status, future.body.error?.code]).toEqual([400, 'MEASURED_IN_FUTURE']);
    expect([missing.status, missing.body.error?.code]).toEqual([404, 'TENANT_NOT_FOUND']);
    expect(await api.tableSnapshot()).toEqual(before);
  });

  describe('operators’ reports win over the tenant’s (issue 13)', () => {
    it('should apply an operator’s correction after a tenant report dated 5 minutes ahead, and the downgrade it blocked should then be allowed', async () => {
      // Prepare: the tenant's own token reports inflated usage, dated just inside the allowed skew.
      await api.createTenant('usage-skewed', { plan: 'professional', usage: usage(3) });
      const tenantToken = api.tenantToken('usage-skewed');
      const inflated = await api.request<Body>('PUT', '/tenants/usage-skewed/usage', { token: tenantToken, body: { usage: usage(45), measuredAt: inSeconds(290) } });
      const blocked = await api.request<Body>('POST', '/tenants/usage-skewed/plan', { body: { plan: 'starter', dryRun: true } });

      // Act: the operator's correct figures, measured now.
      const correction = await api.request<Body>('PUT', '/tenants/usage-skewed/usage', { body: { usage: usage(4) } });
      const downgrade = await api.request<Body>('POST', '/tenants/usage-skewed/plan', { body: { plan: 'starter' } });

      // Assess
      expect(inflated.body).toMatchObject({ applied: true, usage: usage(45) });
      expect(blocked.body).toMatchObject({ allowed: false });
      expect(correction.status).toBe(200);
      expect(correction.body).toMatchObject({ applied: true, usage: usage(4), usageReport: { by: 'operator' } });
      expect([downgrade.status, downgrade.body.status]).toEqual([202, 'scheduled']);
      // Recorded as measured when it arrived: a report cannot claim a time that has not come yet.
      expect(Date.parse(inflated.body.usageMeasuredAt as string)).toBeLessThanOrEqual(Date.now());
    });

    it('should apply an operator’s report dated before the tenant’s last one, and keep operators’ own reports in order', async () => {
      await api.createTenant('usage-op-order', { plan: 'starter' });
      await api.request<Body>('PUT', '/tenants/usage-op-order/usage', { token: api.tenantToken('usage-op-order'), body: { usage: usage(9), measuredAt: '2026-11-01T10:05:00Z' } });

      const correction = await api.request<Body>('PUT', '/tenants/usage-op-order/usage', { body: { usage: usage(2), measuredAt: '2026-11-01T10:00:00Z' } });
      const olderCorrection = await api.request<Body>('PUT', '/tenants/usage-op-order/usage', { body: { usage: usage(1), measuredAt: '2026-11-01T09:00:00Z' } });

      expect(correction.body).toMatchObject({ applied: true, usage: usage(2), usageMeasuredAt: '2026-11-01T10:00:00.000Z' });
      expect(olderCorrection.body).toMatchObject({
        applied: false,
        usage: usage(2),
        notApplied: { code: 'NEWER_REPORT_RECORDED', message: expect.stringContaining('2026-11-01T10:00:00.000Z') },
      });
    });

    it('should not let the tenant’s next report overwrite an operator’s correction for an hour, saying why, and apply it after', async () => {
      await api.createTenant('usage-held', { plan: 'professional' });
      const tenantToken = api.tenantToken('usage-held');
      const correction = await api.request<Body>('PUT', '/tenants/usage-held/usage', { body: { usage: usage(4) } });
      const before = await api.tableSnapshot();

      const overwrite = await api.request<Body>('PUT', '/tenants/usage-held/usage', { token: tenantToken, body: { usage: usage(45) } });

      const heldUntil = (correction.body.usageReport as { heldUntil: string }).heldUntil;
      // An hour after the correction was recorded; its measuredAt (defaulted by the handler) is read a moment before.
      const heldFor = Date.parse(heldUntil) - Date.parse(correction.body.usageMeasuredAt as string);
      expect(heldFor).toBeGreaterThanOrEqual(3_600_000);
      expect(heldFor).toBeLessThan(3_601_000);
      expect(overwrite.status).toBe(200);
      expect(overwrite.body).toMatchObject({
        applied: false,
        usage: usage(4),
        notApplied: {
          code: 'OPERATOR_CORRECTION_HOLDS',
          message: `An operator corrected this tenant's usage (measured at ${correction.body.usageMeasuredAt as string}): reports from the tenant's own token are not applied until ${heldUntil}. Nothing was changed.`,
        },
      });
      expect(await api.tableSnapshot()).toEqual(before);

      // An hour later the application plane's reports count again.
      const clock = new SimulatedClock();
      const uninstall = installLocalClock(clock);
      try {
        clock.advance(3_601);
        const later = await api.request<Body>('PUT', '/tenants/usage-held/usage', { token: tenantToken, body: { usage: usage(46) } });
        expect(later.body).toMatchObject({ applied: true, usage: usage(46), usageReport: { by: 'tenant' } });
        expect(later.body.notApplied).toBeUndefined();
      } finally {
        uninstall();
      }
    });
  });
});
