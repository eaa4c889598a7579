/**
 * The clock every lifecycle time is read from (functions/shared/clock.ts) and the local stack's simulated clock
 * (infra/local/local-clock.ts): the wall clock unless the local stack installs its own; an installed clock is
 * what the stores' and adapters' defaults read; it moves forward only, by whole seconds; it cannot be installed
 * inside a Lambda function.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ROUTES } from '../../../functions/api/routes';
import { LedgerBilling, calendarMonth } from '../../../functions/billing/ledger-billing';
import * as clock from '../../../functions/shared/clock';
import { LOCAL_CLOCK_PATH, MAX_ADVANCE_SECONDS, SimulatedClock, installLocalClock } from '../../../infra/local/local-clock';

const HOUR = 3600;
let uninstall: (() => void) | undefined;

afterEach(() => {
  uninstall?.();
  uninstall = undefined;
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
});

describe('Function: now', () => {
  it('should read the wall clock when no clock is installed', () => {
    const before = Date.now();
    const read = clock.now().getTime();
    expect(read).toBeGreaterThanOrEqual(before);
    expect(read).toBeLessThanOrEqual(Date.now());
  });

  it('should read an installed clock, and the wall clock again once it is taken away', () => {
    const simulated = new SimulatedClock();
    uninstall = installLocalClock(simulated);
    simulated.advance(40 * 24 * HOUR);
    expect(clock.now().getTime()).toBeGreaterThanOrEqual(Date.now() + 40 * 24 * HOUR * 1000 - 1000);

    uninstall();
    expect(Math.abs(clock.now().getTime() - Date.now())).toBeLessThan(1000);
  });
});

describe('Class: SimulatedClock', () => {
  it('should start at the wall time and run with it', () => {
    let wall = Date.parse('2026-11-30T03:00:00Z');
    const simulated = new SimulatedClock(() => wall);
    expect(simulated.reading()).toEqual({ now: '2026-11-30T03:00:00.000Z', simulated: true, offsetSeconds: 0 });
    wall += 1500;
    expect(simulated.now().toISOString()).toBe('2026-11-30T03:00:01.500Z');
  });

  it('should move forward by the seconds asked, adding up, and keep running with the wall clock', () => {
    let wall = Date.parse('2026-11-30T03:00:00Z');
    const simulated = new SimulatedClock(() => wall);
    expect(simulated.advance(HOUR).toISOString()).toBe('2026-11-30T04:00:00.000Z');
    simulated.advance(31 * 24 * HOUR);
    wall += 10_000;
    expect(simulated.reading()).toEqual({ now: '2026-12-31T04:00:10.000Z', simulated: true, offsetSeconds: HOUR + 31 * 24 * HOUR });
  });

  it.each([0, -60, 1.5, Number.NaN, MAX_ADVANCE_SECONDS + 1])('should refuse to advance by %p seconds and stay where it was', (seconds) => {
    const simulated = new SimulatedClock(() => 0);
    expect(() => simulated.advance(seconds)).toThrow(new RangeError(`advanceSeconds must be a whole number of seconds from 1 to ${MAX_ADVANCE_SECONDS}, got ${seconds}.`));
    expect(simulated.offsetSeconds).toBe(0);
  });
});

describe('Function: installLocalClock', () => {
  it('should refuse inside a Lambda function, which keeps the wall clock', () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'TenantLifecycle-ChangePlan';
    const simulated = new SimulatedClock();
    simulated.advance(HOUR);
    expect(() => installLocalClock(simulated)).toThrow('A simulated clock is for the local stack only; it cannot be installed in a Lambda function.');
    expect(Math.abs(clock.now().getTime() - Date.now())).toBeLessThan(1000);
  });

  it("should be what a store's default clock reads: the ledger's billing period is the simulated month", async () => {
    const ledger = new LedgerBilling({ client: {} as DynamoDBDocumentClient, tableName: 'unused' });
    const request = { operationId: 'op-1', tenantId: 'acme-corp', fromPlan: 'starter', toPlan: 'free', direction: 'downgrade', timing: 'period_end' } as const;
    expect((await ledger.previewPlanChange(request)).effectiveAt).toBe(calendarMonth(new Date()).end.toISOString());

    const simulated = new SimulatedClock(() => Date.parse('2026-05-30T03:00:00Z'));
    uninstall = installLocalClock(simulated);
    simulated.advance(2 * 24 * HOUR); // 1 June 2026
    expect((await ledger.previewPlanChange(request)).effectiveAt).toBe('2026-07-01T00:00:00.000Z');
  });
});

describe('/_local/clock', () => {
  it('should not be a route of the shared table, which the CDK stack deploys, nor of the OpenAPI document', () => {
    expect(LOCAL_CLOCK_PATH).toBe('/_local/clock');
    expect(ROUTES.filter((route) => route.path.startsWith('/_local'))).toEqual([]);
    const openapi = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'functions', 'api', 'openapi.json'), 'utf8')) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths).filter((path) => path.startsWith('/_local'))).toEqual([]);
  });
});
