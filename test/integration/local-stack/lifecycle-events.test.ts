/**
 * Lifecycle events in the embedded stack, as a consumer sees them: a tenant created, suspended and resumed
 * through the local API → `GET /events?tenantId=` lists create, suspend, resume and complete_reactivation in
 * version order, each with its audit item's id and a detail the published schema accepts; pages with `after`;
 * tenant-scoped tokens read only their own tenant's. A stack stopped after delivering but before its checkpoint
 * was kept delivers again at the next start: the redelivery is listed with the same ids (the dedupe key).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { testPort } from '../../support/test-port';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggedEvent } from '../../../infra/local/local-event-log';
import { startLocalStack, type LocalStackInfo } from '../../../infra/local/local-stack';
import { hostname, userInfo } from 'node:os';

const root = mkdtempSync(join(tmpdir(), 'lifecycle-events-'));
const dataDir = join(root, 'data');
const errors: string[] = [];
let stack: (LocalStackInfo & { stop(): Promise<void> }) | undefined;
let dynamoPort = 0;

interface EventsPage {
  events: LoggedEvent[];
  next: number;
  error?: { code: string; message: string };
}

async function start(reset: boolean): Promise<LocalStackInfo & { stop(): Promise<void> }> {
  // One DynamoDB port and data folder for both starts: the handlers read their configuration once per process.
  stack = await startLocalStack({ apiPort: 0, dynamoPort, dataDir, reset, eventPollMs: 50, log: () => undefined, logError: (line) => errors.push(line) });
  return stack;
}

async function call<T = Record<string, unknown>>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${stack?.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** The tenant's events after `after`, once at least `count` are listed (the poller runs every 50 ms); 10 s at most. */
async function eventsOnce(tenantId: string, count: number, after = 0): Promise<LoggedEvent[]> {
  for (let tries = 0; ; tries += 1) {
    const page = await call<EventsPage>('GET', `/events?tenantId=${tenantId}&after=${after}`, stack?.tokens.operator as string);
    if (page.body.events.length >= count || tries >= 200) return page.body.events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  dynamoPort = await testPort('DynamoDB Local');
  await start(true);
});

afterAll(async () => {
  await stack?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('GET /events', () => {
  it('should list a tenant created, suspended and resumed through the API as create, suspend, resume, complete_reactivation, in version order, each with its audit id', async () => {
    const operator = stack?.tokens.operator as string;
    expect((await call('POST', '/tenants', operator, { tenantId: 'events-co', name: 'Events Co', email: 'ops@events.example' })).status).toBe(201);
    expect((await call('POST', '/tenants/events-co/suspend', operator, { reason: 'invoice.payment_failed' })).status).toBe(200);
    expect((await call('POST', '/tenants/events-co/resume', operator, { reason: 'invoice.paid' })).status).toBe(200);

    const events = await eventsOnce('events-co', 4);

    expect(events.map((logged) => [logged.position, logged.event['detail-type'], logged.event.detail.id, logged.event.detail.version])).toEqual([
      [1, 'tenant.create', 'events-co#1', 1],
      [2, 'tenant.suspend', 'events-co#2', 2],
      [3, 'tenant.resume', 'events-co#3', 3],
      [4, 'tenant.complete_reactivation', 'events-co#4', 4],
    ]);
    // Imported once the stack has set the configuration the handlers read at import (as every local-stack test).
    const { lifecycleEventDetailSchema } = await import('../../../functions/events/lifecycle-events');
    for (const logged of events) {
      expect(lifecycleEventDetailSchema.parse(logged.event.detail)).toEqual(logged.event.detail);
      expect(logged.event.source).toBe('tenant-lifecycle');
    }
    // The same facts as the audit trail: each event is its audit item.
    const history = await call<{ items: Array<Record<string, unknown>> }>('GET', '/tenants/events-co/history', operator);
    expect(events.map((logged) => ({ ...logged.event.detail })).map(({ schemaVersion: _v, id: _id, ...audit }) => audit)).toEqual([...history.body.items].reverse());
    expect(events[1]?.event.detail).toMatchObject({ from: 'active', to: 'suspended', reason: 'invoice.payment_failed', actor: `${userInfo().username}@${hostname()}` });
    // No personal data beyond the audit item: the tenant's email and name are not in any event.
    expect(JSON.stringify(events)).not.toMatch(/ops@events\.example|Events Co/);
  });

  it('should page with after and limit, answering the position to ask after next', async () => {
    const operator = stack?.tokens.operator as string;
    const first = await call<EventsPage>('GET', '/events?tenantId=events-co&limit=3', operator);
    expect([first.body.events.map((logged) => logged.position), first.body.next]).toEqual([[1, 2, 3], 3]);
    const second = await call<EventsPage>('GET', `/events?tenantId=events-co&after=${first.body.next}&limit=3`, operator);
    expect([second.body.events.map((logged) => logged.event.detail.event), second.body.next]).toEqual([['complete_reactivation'], 4]);
    const none = await call<EventsPage>('GET', '/events?tenantId=events-co&after=4', operator);
    expect(none.body).toEqual({ events: [], next: 4 });
  });

  it("should let a tenant-scoped token read its own tenant's events only", async () => {
    const acme = stack?.tokens.acme as string;
    const own = await call<EventsPage>('GET', '/events?tenantId=acme-corp', acme);
    expect(own.status).toBe(200);
    expect(own.body.events[0]?.event.detail).toMatchObject({ id: 'acme-corp#1', event: 'create' }); // the demo seed, published too
    const other = await call<EventsPage>('GET', '/events?tenantId=events-co', acme);
    expect([other.status, other.body.error?.code, other.body.events]).toEqual([403, 'FORBIDDEN', undefined]);
  });

  it.each([
    ['no tenantId', '/events', 'tenantId'],
    ['a malformed tenantId', '/events?tenantId=Not_A_Tenant', 'tenantId'],
    ['an after that is not a whole number', '/events?tenantId=events-co&after=-1', 'after'],
    ['a limit past 100', '/events?tenantId=events-co&limit=101', 'limit'],
  ])('should answer 400 naming the field for %s', async (_name, path, field) => {
    const answer = await call<EventsPage & { error: { details?: Array<{ field: string }> } }>('GET', path, stack?.tokens.operator as string);
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body.error)).toContain(field);
  });

  it('should deliver again, with the same ids, what a stack stopped before keeping its checkpoint had delivered', async () => {
    await stack?.stop();
    // As if the stack had died after handing the batch to the log and before writing its checkpoint.
    rmSync(join(dataDir, 'events', 'stream-checkpoints.json'));
    await start(false);

    const again = await eventsOnce('events-co', 4, 4);

    expect(again.map((logged) => [logged.position, logged.event.detail.id])).toEqual([
      [5, 'events-co#1'],
      [6, 'events-co#2'],
      [7, 'events-co#3'],
      [8, 'events-co#4'],
    ]);
    const first = await call<EventsPage>('GET', '/events?tenantId=events-co&limit=4', stack?.tokens.operator as string);
    // A redelivery: the same detail (the dedupe key with it), another delivery id.
    expect(again.map((logged) => logged.event.detail)).toEqual(first.body.events.map((logged) => logged.event.detail));
    expect(again.map((logged) => logged.event.id)).not.toEqual(first.body.events.map((logged) => logged.event.id));
    expect(errors).toEqual([]);
  });
});
