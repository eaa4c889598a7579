/**
 * A small stand-in for the Stripe API on 127.0.0.1, for driving the real Stripe SDK in tests. It records every
 * request (method, path, the form body both flat — `items[0][price]` — and parsed, the Idempotency-Key and
 * Stripe-Version headers) and answers from a little state of subscriptions, schedules, invoices and credit notes
 * that tests seed. Like Stripe it replays the first answer for a repeated idempotency key and refuses the key
 * with different parameters. Tests can override any endpoint with canned answers (`on`, `once`), for example
 * to inject errors.
 *
 * Objects are Stripe's published examples (test/events/stripe/) with the fields the fake models overridden. It
 * models what Stripe resets when an update replaces a structure: changing an item's price without a quantity
 * sets the quantity to 1; updating a schedule's `phases` replaces them wholesale, every omitted phase or item
 * field taking its default; a schedule made `from_subscription` copies the subscription into phase 0; a phase
 * that takes effect (`advanceSchedule`) sets the subscription from that phase. Invoices carry the
 * `billing_reason` Stripe gives them (`subscription_update` for an always_invoice proration,
 * `subscription_cycle` for a renewal) and the status their collection method gives them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import type { SubscriptionStatus } from '../../functions/billing/billing-port';

export interface RecordedStripeRequest {
  readonly method: string;
  /** Path without the query string, e.g. `/v1/subscriptions/sub_123`. */
  readonly path: string;
  /** Form fields exactly as sent (bracket notation keys, decoded), from the body or, for GET, the query. */
  readonly form: Readonly<Record<string, string>>;
  /** The same fields as nested objects and arrays. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly idempotencyKey: string | undefined;
  readonly stripeVersion: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

export interface StripeReply {
  readonly status?: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export type StripeResponder = StripeReply | ((request: RecordedStripeRequest, params: Readonly<Record<string, string>>) => StripeReply);

/** A Stripe API error body, as the SDK expects it (`{ error: { type, code, message, ... } }`). */
export function stripeError(status: number, error: { type: string; message: string; code?: string; decline_code?: string; param?: string }): StripeReply {
  return { status, body: { error }, headers: { 'request-id': `req_fake_${status}` } };
}

/** Stripe's refusal of a quantity on a metered price's item. */
const meteredQuantity = (param: string) => stripeError(400, { type: 'invalid_request_error', param, message: 'Quantity cannot be set for metered prices: remove it from the item.' });

/** The figures the fake's proration previews and invoices use (minor units). */
export const FAKE_PRORATION = { unusedTimeCredit: -1933, remainingTimeCharge: 6600, net: 4667 } as const;

/** A Stripe example object (test/events/stripe/<kind>.json), fresh each call. */
function example(kind: 'subscription' | 'subscription_schedule' | 'invoice' | 'credit_note' | 'customer' | 'deleted_customer'): Record<string, unknown> {
  return JSON.parse(readFileSync(join(__dirname, '..', 'events', 'stripe', `${kind}.json`), 'utf8')) as Record<string, unknown>;
}

/**
 * The subscription-level fields that a Stripe update replacing a structure would reset (a schedule phase that
 * omits them sets them to their default when it takes effect). Defaults are Stripe's for a new subscription.
 */
export interface FakeSubscriptionSettings {
  /** Discount ids (`di_...`), as `subscription.discounts`. */
  discounts: string[];
  /** Tax rate ids. */
  default_tax_rates: string[];
  collection_method: 'charge_automatically' | 'send_invoice';
  days_until_due: number | null;
  billing_thresholds: { amount_gte: number | null; reset_billing_cycle_anchor: boolean | null } | null;
  /** Unix seconds. */
  trial_end: number | null;
  default_payment_method: string | null;
  description: string | null;
  automatic_tax: { enabled: boolean; liability: { type: string } | null };
  application_fee_percent: number | null;
  transfer_data: { amount_percent: number | null; destination: string } | null;
  on_behalf_of: string | null;
  invoice_settings: { account_tax_ids: string[] | null; issuer: { type: string } };
}

/** The subscription item's fields besides price and quantity. */
export interface FakeItemSettings {
  tax_rates: string[];
  /** Discount ids. */
  discounts: string[];
  metadata: Record<string, string>;
  billing_thresholds: { usage_gte: number } | null;
}

const DEFAULT_SETTINGS: FakeSubscriptionSettings = {
  discounts: [],
  default_tax_rates: [],
  collection_method: 'charge_automatically',
  days_until_due: null,
  billing_thresholds: null,
  trial_end: null,
  default_payment_method: null,
  description: null,
  automatic_tax: { enabled: false, liability: null },
  application_fee_percent: null,
  transfer_data: null,
  on_behalf_of: null,
  invoice_settings: { account_tax_ids: null, issuer: { type: 'self' } },
};
const DEFAULT_ITEM: FakeItemSettings = { tax_rates: [], discounts: [], metadata: {}, billing_thresholds: null };

export interface SeedSubscription {
  readonly id: string;
  readonly itemId: string;
  readonly priceId: string;
  readonly customerId?: string;
  readonly quantity?: number;
  /**
   * A usage-based (metered) price: its item and schedule phase item carry no quantity, and Stripe refuses a
   * request that sets one ("quantity ... cannot be set for metered prices").
   */
  readonly metered?: boolean;
  readonly currency?: string;
  /** `trialing` subscriptions prorate nothing: a price change during a trial invoices nothing. */
  readonly status?: SubscriptionStatus;
  /** Unix seconds. */
  readonly currentPeriodStart: number;
  /** Unix seconds. */
  readonly currentPeriodEnd: number;
  readonly metadata?: Record<string, string>;
  readonly settings?: Partial<FakeSubscriptionSettings>;
  readonly item?: Partial<FakeItemSettings>;
}

export interface FakeSubscription {
  id: string;
  customer: string;
  currency: string;
  status: SubscriptionStatus;
  /** Unix seconds; null until cancelled. */
  canceledAt: number | null;
  itemId: string;
  priceId: string;
  quantity: number;
  metered: boolean;
  periodStart: number;
  periodEnd: number;
  scheduleId: string | null;
  latestInvoiceId: string | null;
  metadata: Record<string, string>;
  settings: FakeSubscriptionSettings;
  item: FakeItemSettings;
}

type Form = Record<string, unknown>;
const asNumber = (value: unknown): number | null => (value === undefined || value === null || value === '' ? null : Number(value));
const asBoolean = (value: unknown): boolean | null => (value === undefined || value === '' ? null : value === true || value === 'true');
const asStrings = (value: unknown): string[] => (Array.isArray(value) ? (value as string[]) : []);
const taxRate = (id: string) => ({ id, object: 'tax_rate', active: true });
/** A phase's or item's `discounts` entries, as Stripe returns them. */
const discountEntries = (value: unknown) =>
  (Array.isArray(value) ? (value as Form[]) : []).map((entry) => ({ coupon: entry.coupon ?? null, discount: entry.discount ?? null, promotion_code: entry.promotion_code ?? null }));

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly responder: StripeResponder;
}

function compile(method: string, path: string, responder: StripeResponder): Route {
  const names: string[] = [];
  const source = path.replace(/:([A-Za-z]+)/g, (_match, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { method: method.toUpperCase(), pattern: new RegExp(`^${source}$`), names, responder };
}

function match(route: Route, method: string, path: string): Record<string, string> | undefined {
  if (route.method !== method) return undefined;
  const found = route.pattern.exec(path);
  if (!found) return undefined;
  return Object.fromEntries(route.names.map((name, index) => [name, decodeURIComponent(found[index + 1] ?? '')]));
}

/** `a[b][0][c]=x` pairs into nested objects; objects whose keys are all indices become arrays. */
export function parseStripeForm(form: Readonly<Record<string, string>>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(form)) {
    const path = key.replace(/\]/g, '').split('[');
    let node = root;
    path.forEach((segment, index) => {
      if (index === path.length - 1) {
        node[segment] = value;
        return;
      }
      const next = node[segment];
      node = (next && typeof next === 'object' ? next : (node[segment] = {})) as Record<string, unknown>;
    });
  }
  const arrays = (value: unknown): unknown => {
    if (!value || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>).map(([key, child]) => [key, arrays(child)] as const);
    if (entries.length > 0 && entries.every(([key]) => /^\d+$/.test(key))) {
      return entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, child]) => child);
    }
    return Object.fromEntries(entries);
  };
  return arrays(root) as Record<string, unknown>;
}

function readForm(raw: string): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(raw)) form[key] = value;
  return form;
}

function notFound(message: string): StripeReply {
  return stripeError(404, { type: 'invalid_request_error', code: 'resource_missing', message });
}

export class FakeStripeServer {
  readonly requests: RecordedStripeRequest[] = [];
  readonly #server: Server;
  #overrides: Route[] = [];
  #onceOverrides: Route[] = [];
  #serverErrors: Array<{ route: Route; applied: boolean; remaining: number }> = [];
  readonly #defaults: Route[];
  readonly #idempotent = new Map<string, { fingerprint: string; reply: StripeReply }>();
  readonly #subscriptions = new Map<string, FakeSubscription>();
  readonly #schedules = new Map<string, Record<string, unknown>>();
  readonly #invoices = new Map<string, Record<string, unknown>>();
  readonly #creditNotes: Record<string, unknown>[] = [];
  /** Customers made by `POST /v1/customers`, by id. */
  readonly #customers = new Map<string, Record<string, unknown>>();
  /** Customers deleted (`DELETE /v1/customers/:id`); any other customer id exists. */
  readonly #deletedCustomers = new Set<string>();
  #sequence = 0;
  /** The one secret key accepted (`acceptOnlyApiKey`); any key when undefined. */
  #apiKey: string | undefined;

  private constructor() {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    this.#defaults = this.#defaultRoutes();
  }

  /** Start on a free loopback port. */
  static async start(): Promise<FakeStripeServer> {
    const fake = new FakeStripeServer();
    await new Promise<void>((resolve, reject) => {
      fake.#server.once('error', reject);
      fake.#server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The real SDK, pointed here, with its own retries off so every attempt is the test's to see. */
  stripeClient(): Stripe {
    return new Stripe('sk_test_fake', { host: '127.0.0.1', port: this.port, protocol: 'http', maxNetworkRetries: 0, telemetry: false });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Forget requests, overrides, idempotency records and state (between tests). */
  reset(): void {
    this.requests.length = 0;
    this.#overrides = [];
    this.#onceOverrides = [];
    this.#serverErrors = [];
    this.#idempotent.clear();
    this.#subscriptions.clear();
    this.#schedules.clear();
    this.#invoices.clear();
    this.#creditNotes.length = 0;
    this.#customers.clear();
    this.#deletedCustomers.clear();
    this.#apiKey = undefined;
  }

  /**
   * Accept only `apiKey` from now on (undefined: any key), as Stripe after a key is rolled: a request with another
   * key is answered 401 with Stripe's body for an invalid key, which the SDK raises as StripeAuthenticationError.
   */
  acceptOnlyApiKey(apiKey: string | undefined): this {
    this.#apiKey = apiKey;
    return this;
  }

  /** The secret key each recorded request was sent with (its `Authorization: Bearer` header). */
  get apiKeysUsed(): Array<string | undefined> {
    return this.requests.map((request) => /^Bearer (.+)$/.exec(String(request.headers.authorization ?? ''))?.[1]);
  }

  /** Forget saved idempotent answers, as Stripe does after 24 hours. */
  expireIdempotencyKeys(): void {
    this.#idempotent.clear();
  }

  /** Answer `method path` (`:name` matches a segment) with `responder` until reset. */
  on(method: string, path: string, responder: StripeResponder): this {
    this.#overrides.push(compile(method, path, responder));
    return this;
  }

  /** Answer the next matching request with `responder`, then fall back to what answered before. */
  once(method: string, path: string, responder: StripeResponder): this {
    this.#onceOverrides.push(compile(method, path, responder));
    return this;
  }

  /**
   * Fail the next `times` matching requests with a 500 from the endpoint itself, as Stripe does when it fails
   * while executing a request: `applied` says whether the change happened before the failure. Unlike `on` and
   * `once`, the 500 is saved under the request's idempotency key, so a retry with that key gets the same 500
   * back ("Subsequent requests with the same key return the same result, including 500 errors").
   */
  serverError(method: string, path: string, options: { applied: boolean; times?: number }): this {
    this.#serverErrors.push({ route: compile(method, path, () => ({ body: null })), applied: options.applied, remaining: options.times ?? 1 });
    return this;
  }

  /** The recorded requests, optionally only those for `method` (and `path`). */
  requestsTo(method: string, path?: string): RecordedStripeRequest[] {
    return this.requests.filter((request) => request.method === method.toUpperCase() && (path === undefined || request.path === path));
  }

  /** Requests that may change something (everything but GET). */
  get mutations(): RecordedStripeRequest[] {
    return this.requests.filter((request) => request.method !== 'GET');
  }

  seedSubscription(seed: SeedSubscription): void {
    this.#subscriptions.set(seed.id, {
      id: seed.id,
      customer: seed.customerId ?? 'cus_fake',
      currency: seed.currency ?? 'usd',
      itemId: seed.itemId,
      priceId: seed.priceId,
      quantity: seed.quantity ?? 1,
      metered: seed.metered ?? false,
      status: seed.status ?? 'active',
      canceledAt: seed.status === 'canceled' ? seed.currentPeriodStart : null,
      periodStart: seed.currentPeriodStart,
      periodEnd: seed.currentPeriodEnd,
      scheduleId: null,
      latestInvoiceId: null,
      metadata: { ...seed.metadata },
      settings: structuredClone({ ...DEFAULT_SETTINGS, ...seed.settings }),
      item: structuredClone({ ...DEFAULT_ITEM, ...seed.item }),
    });
  }

  /** An invoice of `subscriptionId` that Stripe made by itself (a renewal by default), now its latest invoice. */
  seedInvoice(subscriptionId: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
    const subscription = this.#subscriptions.get(subscriptionId);
    if (!subscription) throw new Error(`seedInvoice: no subscription ${subscriptionId}`);
    const invoice = this.#newInvoice(subscription, { billing_reason: 'subscription_cycle', status: 'paid', total: 2000, amount_due: 2000, amount_paid: 2000, ...fields });
    subscription.latestInvoiceId = invoice.id as string;
    return invoice;
  }

  /** Cancel a schedule as the Dashboard or another integration could; cancelling a schedule cancels its subscription. */
  cancelSchedule(scheduleId: string): void {
    const schedule = this.#schedules.get(scheduleId);
    const subscription = schedule && this.#subscriptions.get(String(schedule.subscription));
    if (!schedule || !subscription) throw new Error(`cancelSchedule: no schedule ${scheduleId} with a subscription`);
    Object.assign(schedule, { status: 'canceled', canceled_at: Math.floor(Date.now() / 1000) });
    subscription.status = 'canceled';
    subscription.scheduleId = null;
  }

  /**
   * The period ends: the schedule's next phase takes effect (Stripe sets the subscription from the phase, every
   * phase field replacing the subscription's) and the subscription renews, invoiced as `subscription_cycle`.
   */
  advanceSchedule(scheduleId: string): void {
    const schedule = this.#schedules.get(scheduleId);
    if (!schedule) throw new Error(`advanceSchedule: no schedule ${scheduleId}`);
    const subscription = this.#subscriptions.get(String(schedule.subscription));
    const phases = schedule.phases as Form[];
    const current = schedule.current_phase as { start_date: number; end_date: number };
    // A phase without a start date starts where the one before it ends.
    const next = phases.find((phase, index) => Number(phase.start_date ?? phases[index - 1]?.end_date) >= current.end_date);
    if (!subscription || !next) throw new Error(`advanceSchedule: schedule ${scheduleId} has no next phase or subscription`);
    const [item] = next.items as Form[];
    const length = subscription.periodEnd - subscription.periodStart;
    subscription.periodStart = subscription.periodEnd;
    subscription.periodEnd += length;
    subscription.priceId = String(item?.price);
    subscription.quantity = Number(item?.quantity ?? 1);
    subscription.item = {
      tax_rates: (item?.tax_rates as Array<{ id: string }>).map((rate) => rate.id),
      discounts: (item?.discounts as Form[]).map((entry) => String(entry.discount ?? this.#id('di'))),
      metadata: { ...subscription.item.metadata, ...(item?.metadata as Record<string, string>) },
      billing_thresholds: (item?.billing_thresholds as FakeItemSettings['billing_thresholds']) ?? null,
    };
    const invoiceSettings = next.invoice_settings as (Form & { days_until_due?: number | null }) | null;
    subscription.settings = {
      discounts: (next.discounts as Form[]).map((entry) => String(entry.discount ?? this.#id('di'))),
      default_tax_rates: (next.default_tax_rates as Array<{ id: string }>).map((rate) => rate.id),
      collection_method: (next.collection_method as FakeSubscriptionSettings['collection_method'] | null) ?? 'charge_automatically',
      days_until_due: invoiceSettings?.days_until_due ?? null,
      billing_thresholds: next.billing_thresholds as FakeSubscriptionSettings['billing_thresholds'],
      trial_end: next.trial_end as number | null,
      default_payment_method: next.default_payment_method as string | null,
      description: next.description as string | null,
      automatic_tax: { enabled: Boolean((next.automatic_tax as Form).enabled), liability: ((next.automatic_tax as Form).liability as { type: string } | null) ?? null },
      application_fee_percent: next.application_fee_percent as number | null,
      transfer_data: next.transfer_data as FakeSubscriptionSettings['transfer_data'],
      on_behalf_of: next.on_behalf_of as string | null,
      invoice_settings: {
        account_tax_ids: (invoiceSettings?.account_tax_ids as string[] | null | undefined) ?? null,
        issuer: (invoiceSettings?.issuer as { type: string } | undefined) ?? { type: 'self' },
      },
    };
    Object.assign(subscription.metadata, next.metadata);
    schedule.current_phase = { start_date: subscription.periodStart, end_date: Number(next.end_date ?? subscription.periodEnd) };
    this.seedInvoice(subscription.id);
  }

  /** Every customer made through `POST /v1/customers`, in the order made. */
  get customers(): readonly Readonly<Record<string, unknown>>[] {
    return [...this.#customers.values()];
  }

  /**
   * Move a subscription to `status` as Stripe does by itself, without any request of ours: a failed renewal
   * (`past_due`), retries exhausted (`unpaid`), a payment that recovered (`active`). No event is sent: the test
   * delivers one, or none (a missed event, for reconciliation to catch).
   */
  setSubscriptionStatus(id: string, status: SubscriptionStatus): void {
    const subscription = this.#subscriptions.get(id);
    if (!subscription) throw new Error(`setSubscriptionStatus: no subscription ${id}`);
    subscription.status = status;
    if (status === 'canceled') subscription.canceledAt ??= Math.floor(Date.now() / 1000);
  }

  /** Whether the customer was deleted. */
  customerDeleted(customerId: string): boolean {
    return this.#deletedCustomers.has(customerId);
  }

  /** Every subscription of `customerId`, in the order made. */
  subscriptionsOf(customerId: string): readonly Readonly<FakeSubscription>[] {
    return [...this.#subscriptions.values()].filter((subscription) => subscription.customer === customerId);
  }

  /**
   * Cancel now, as `DELETE /v1/subscriptions/:id` does: `prorate` credits the unused time, `invoice_now` puts it on
   * a final invoice at once; a schedule managing the subscription is cancelled with it.
   */
  #cancel(subscription: FakeSubscription, options: { prorate: boolean; invoiceNow: boolean }): void {
    subscription.status = 'canceled';
    subscription.canceledAt = Math.floor(Date.now() / 1000);
    const schedule = subscription.scheduleId ? this.#schedules.get(subscription.scheduleId) : undefined;
    if (schedule) Object.assign(schedule, { status: 'canceled', canceled_at: subscription.canceledAt });
    subscription.scheduleId = null;
    if (options.prorate && options.invoiceNow) {
      const amount = FAKE_PRORATION.unusedTimeCredit * subscription.quantity;
      const line = { id: this.#id('il'), object: 'line_item', description: `Unused time on ${subscription.quantity} × ${subscription.priceId}`, amount, currency: subscription.currency, quantity: subscription.quantity };
      const invoice = this.#newInvoice(subscription, {
        billing_reason: 'subscription_cycle',
        status: 'paid',
        total: amount,
        amount_due: 0,
        amount_paid: 0,
        lines: { object: 'list', has_more: false, data: [line] },
      });
      subscription.latestInvoiceId = invoice.id as string;
    }
  }

  /** The fake's view of a subscription (current price, schedule, metadata). */
  subscription(id: string): Readonly<FakeSubscription> | undefined {
    return this.#subscriptions.get(id);
  }

  schedule(id: string): Readonly<Record<string, unknown>> | undefined {
    return this.#schedules.get(id);
  }

  invoice(id: string): Record<string, unknown> | undefined {
    return this.#invoices.get(id);
  }

  /** Every invoice, in the order made. */
  get invoices(): readonly Readonly<Record<string, unknown>>[] {
    return [...this.#invoices.values()];
  }

  get creditNotes(): readonly Readonly<Record<string, unknown>>[] {
    return this.#creditNotes;
  }

  async #handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const url = new URL(incoming.url ?? '/', 'http://127.0.0.1');
    const method = (incoming.method ?? 'GET').toUpperCase();
    const raw = method === 'GET' || method === 'DELETE' ? url.search.slice(1) : Buffer.concat(chunks).toString('utf8');
    const form = readForm(raw);
    const header = (name: string) => {
      const value = incoming.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const request: RecordedStripeRequest = {
      method,
      path: url.pathname,
      form,
      body: parseStripeForm(form),
      idempotencyKey: header('idempotency-key'),
      stripeVersion: header('stripe-version'),
      headers: incoming.headers,
    };
    this.requests.push(request);

    let reply: StripeReply;
    try {
      const key = /^Bearer (.+)$/.exec(header('authorization') ?? '')?.[1];
      reply =
        this.#apiKey !== undefined && key !== this.#apiKey
          ? stripeError(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${String(key).slice(0, 8)}****` })
          : this.#idempotentReply(request);
    } catch (error) {
      reply = stripeError(500, { type: 'api_error', message: `fake Stripe failed: ${(error as Error).message}` });
    }
    response.writeHead(reply.status ?? 200, { 'content-type': 'application/json', 'request-id': `req_fake_${++this.#sequence}`, ...reply.headers });
    response.end(JSON.stringify(reply.body));
  }

  /** Stripe replays the saved answer for a repeated key and refuses the key with other parameters. */
  #idempotentReply(request: RecordedStripeRequest): StripeReply {
    const key = request.idempotencyKey;
    if (key === undefined || request.method === 'GET') return this.#route(request).reply;
    const fingerprint = JSON.stringify([request.method, request.path, request.form]);
    const saved = this.#idempotent.get(key);
    if (saved) {
      if (saved.fingerprint !== fingerprint) {
        return stripeError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      return { ...saved.reply, headers: { ...saved.reply.headers, 'idempotent-replayed': 'true' } };
    }
    const { reply, reachedEndpoint } = this.#route(request);
    // Like Stripe, save only answers of requests that reached an endpoint; injected faults (overrides) stand for
    // failures in front of it (network, rate limit, overload), so a retry with the same key gets through.
    if (reachedEndpoint) this.#idempotent.set(key, { fingerprint, reply });
    return reply;
  }

  #route(request: RecordedStripeRequest): { reply: StripeReply; reachedEndpoint: boolean } {
    const failure = this.#serverErrors.find((candidate) => candidate.remaining > 0 && match(candidate.route, request.method, request.path));
    if (failure) {
      failure.remaining -= 1;
      const endpoint = this.#defaults.find((route) => match(route, request.method, request.path));
      if (failure.applied && endpoint) this.#answer(endpoint, request);
      const reply = stripeError(500, { type: 'api_error', message: 'An unknown error occurred while processing the request.' });
      return { reply: { ...reply, headers: { ...reply.headers, 'stripe-should-retry': 'false' } }, reachedEndpoint: true };
    }
    const onceIndex = this.#onceOverrides.findIndex((route) => match(route, request.method, request.path));
    if (onceIndex >= 0) {
      const [route] = this.#onceOverrides.splice(onceIndex, 1);
      return { reply: this.#answer(route as Route, request), reachedEndpoint: false };
    }
    for (const route of [...this.#overrides].reverse()) {
      if (match(route, request.method, request.path)) return { reply: this.#answer(route, request), reachedEndpoint: false };
    }
    for (const route of this.#defaults) {
      if (match(route, request.method, request.path)) return { reply: this.#answer(route, request), reachedEndpoint: true };
    }
    return { reply: notFound(`Unrecognized request URL (${request.method}: ${request.path}).`), reachedEndpoint: false };
  }

  #answer(route: Route, request: RecordedStripeRequest): StripeReply {
    const params = match(route, request.method, request.path) ?? {};
    return typeof route.responder === 'function' ? route.responder(request, params) : route.responder;
  }

  #id(prefix: string): string {
    this.#sequence += 1;
    return `${prefix}_fake${this.#sequence}`;
  }

  #subscriptionObject(subscription: FakeSubscription, expand: readonly unknown[] = []): Record<string, unknown> {
    const invoice = subscription.latestInvoiceId;
    const base = example('subscription');
    const [exampleItem] = (base.items as { data: Record<string, unknown>[] }).data;
    const { settings } = subscription;
    return {
      ...base,
      id: subscription.id,
      customer: subscription.customer,
      currency: subscription.currency,
      status: subscription.status,
      schedule: subscription.scheduleId,
      metadata: subscription.metadata,
      latest_invoice: invoice && expand.includes('latest_invoice') ? (this.#invoices.get(invoice) ?? invoice) : invoice,
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: subscription.canceledAt,
      ended_at: subscription.canceledAt,
      pending_update: null,
      discounts: settings.discounts,
      default_tax_rates: settings.default_tax_rates.map(taxRate),
      collection_method: settings.collection_method,
      days_until_due: settings.days_until_due,
      billing_thresholds: settings.billing_thresholds,
      trial_end: settings.trial_end,
      default_payment_method: settings.default_payment_method,
      description: settings.description,
      automatic_tax: { ...settings.automatic_tax, disabled_reason: null },
      application_fee_percent: settings.application_fee_percent,
      transfer_data: settings.transfer_data,
      on_behalf_of: settings.on_behalf_of,
      invoice_settings: { ...(base.invoice_settings as object), ...settings.invoice_settings },
      items: {
        object: 'list',
        has_more: false,
        url: `/v1/subscription_items?subscription=${subscription.id}`,
        data: [
          {
            ...exampleItem,
            id: subscription.itemId,
            object: 'subscription_item',
            subscription: subscription.id,
            quantity: subscription.metered ? undefined : subscription.quantity,
            current_period_start: subscription.periodStart,
            current_period_end: subscription.periodEnd,
            price: { ...(exampleItem?.price as object), id: subscription.priceId, object: 'price', currency: subscription.currency },
            tax_rates: subscription.item.tax_rates.map(taxRate),
            discounts: subscription.item.discounts,
            metadata: subscription.item.metadata,
            billing_thresholds: subscription.item.billing_thresholds,
          },
        ],
      },
    };
  }

  /** Phase 0 of a schedule made `from_subscription`: Stripe copies the subscription into it. */
  #phaseFromSubscription(subscription: FakeSubscription): Record<string, unknown> {
    const { settings, item } = subscription;
    return {
      add_invoice_items: [],
      application_fee_percent: settings.application_fee_percent,
      automatic_tax: { ...settings.automatic_tax, disabled_reason: null },
      billing_cycle_anchor: null,
      billing_thresholds: settings.billing_thresholds,
      collection_method: settings.collection_method,
      currency: subscription.currency,
      default_payment_method: settings.default_payment_method,
      default_tax_rates: settings.default_tax_rates.map(taxRate),
      description: settings.description,
      discounts: settings.discounts.map((discount) => ({ coupon: null, discount, promotion_code: null })),
      end_date: subscription.periodEnd,
      invoice_settings: { account_tax_ids: settings.invoice_settings.account_tax_ids, days_until_due: settings.days_until_due, issuer: settings.invoice_settings.issuer },
      items: [
        {
          price: subscription.priceId,
          quantity: subscription.metered ? null : subscription.quantity,
          tax_rates: item.tax_rates.map(taxRate),
          discounts: item.discounts.map((discount) => ({ coupon: null, discount, promotion_code: null })),
          metadata: { ...item.metadata },
          billing_thresholds: item.billing_thresholds,
        },
      ],
      metadata: { ...subscription.metadata },
      on_behalf_of: settings.on_behalf_of,
      proration_behavior: 'create_prorations',
      start_date: subscription.periodStart,
      transfer_data: settings.transfer_data,
      trial_end: settings.trial_end,
    };
  }

  /** A phase as sent in `phases[n]`, as Stripe stores it: every field omitted takes its default (phases are replaced wholesale). */
  #phaseFromRequest(phase: Form, currency: string): Record<string, unknown> {
    const thresholds = phase.billing_thresholds as Form | undefined;
    const invoiceSettings = phase.invoice_settings as Form | undefined;
    const automaticTax = phase.automatic_tax as Form | undefined;
    const transfer = phase.transfer_data as Form | undefined;
    return {
      add_invoice_items: [],
      application_fee_percent: asNumber(phase.application_fee_percent),
      automatic_tax: { enabled: asBoolean(automaticTax?.enabled) ?? false, liability: (automaticTax?.liability as object | undefined) ?? null, disabled_reason: null },
      billing_cycle_anchor: phase.billing_cycle_anchor ?? null,
      billing_thresholds: thresholds ? { amount_gte: asNumber(thresholds.amount_gte), reset_billing_cycle_anchor: asBoolean(thresholds.reset_billing_cycle_anchor) } : null,
      collection_method: phase.collection_method ?? null,
      currency: phase.currency ?? currency,
      default_payment_method: phase.default_payment_method ?? null,
      default_tax_rates: asStrings(phase.default_tax_rates).map(taxRate),
      description: phase.description ?? null,
      discounts: discountEntries(phase.discounts),
      end_date: asNumber(phase.end_date),
      invoice_settings: invoiceSettings
        ? { account_tax_ids: invoiceSettings.account_tax_ids ?? null, days_until_due: asNumber(invoiceSettings.days_until_due), issuer: invoiceSettings.issuer ?? { type: 'self' } }
        : null,
      items: (phase.items as Form[]).map((item) => {
        const itemThresholds = item.billing_thresholds as Form | undefined;
        return {
          price: item.price,
          quantity: asNumber(item.quantity) ?? 1,
          tax_rates: asStrings(item.tax_rates).map(taxRate),
          discounts: discountEntries(item.discounts),
          metadata: item.metadata ?? {},
          billing_thresholds: itemThresholds ? { usage_gte: asNumber(itemThresholds.usage_gte) } : null,
        };
      }),
      metadata: phase.metadata ?? {},
      on_behalf_of: phase.on_behalf_of ?? null,
      proration_behavior: phase.proration_behavior ?? 'create_prorations',
      start_date: asNumber(phase.start_date),
      transfer_data: transfer ? { amount_percent: asNumber(transfer.amount_percent), destination: transfer.destination } : null,
      trial_end: asNumber(phase.trial_end),
    };
  }

  #newInvoice(subscription: FakeSubscription, fields: Record<string, unknown>): Record<string, unknown> {
    const invoice = {
      ...example('invoice'),
      id: this.#id('in'),
      object: 'invoice',
      customer: subscription.customer,
      currency: subscription.currency,
      collection_method: subscription.settings.collection_method,
      billing_reason: 'subscription_update',
      discounts: subscription.settings.discounts,
      parent: { type: 'subscription_details', subscription_details: { subscription: subscription.id, metadata: { ...subscription.metadata } }, quote_details: null },
      ...fields,
    };
    this.#invoices.set(invoice.id, invoice);
    return invoice;
  }

  /** The proration of moving `from` (price and quantity) to `to`: per unit, FAKE_PRORATION's figures. */
  #proration(currency: string, from: { price: string; quantity: number }, to: { price: string; quantity: number }): { total: number; lines: Record<string, unknown> } {
    const line = (description: string, amount: number) => ({ id: this.#id('il'), object: 'line_item', description, amount, currency, quantity: description.startsWith('Unused') ? from.quantity : to.quantity });
    const data = [
      line(`Unused time on ${from.quantity} × ${from.price}`, FAKE_PRORATION.unusedTimeCredit * from.quantity),
      line(`Remaining time on ${to.quantity} × ${to.price}`, FAKE_PRORATION.remainingTimeCharge * to.quantity),
    ];
    return { total: data.reduce((sum, entry) => sum + entry.amount, 0), lines: { object: 'list', has_more: false, data } };
  }

  /** The item after `change` (`items[n]` of an update or a preview): a new price without a quantity resets it to 1. */
  static #itemAfter(subscription: FakeSubscription, change: Form | undefined): { price: string; quantity: number } {
    const price = change?.price === undefined ? subscription.priceId : String(change.price);
    // "When changing a subscription item's price, quantity is set to 1 unless a quantity parameter is provided."
    const quantity = change?.quantity !== undefined ? Number(change.quantity) : price !== subscription.priceId ? 1 : subscription.quantity;
    return { price, quantity };
  }

  #defaultRoutes(): Route[] {
    const subscriptionOr404 = (id: string) => this.#subscriptions.get(id);
    const scheduleOr404 = (id: string) => this.#schedules.get(id);
    return [
      // Create a subscription (https://docs.stripe.com/api/subscriptions/create): one item, a month from now.
      compile('POST', '/v1/subscriptions', (request) => {
        const customer = String(request.body.customer);
        if (this.#deletedCustomers.has(customer)) return notFound(`No such customer: '${customer}'`);
        const [item] = (request.body.items ?? []) as Form[];
        if (!item?.price) return stripeError(400, { type: 'invalid_request_error', param: 'items', message: 'Missing required param: items.' });
        const now = Math.floor(Date.now() / 1000);
        const id = this.#id('sub');
        this.seedSubscription({
          id,
          itemId: this.#id('si'),
          priceId: String(item.price),
          customerId: customer,
          quantity: item.quantity === undefined ? 1 : Number(item.quantity),
          currentPeriodStart: now,
          currentPeriodEnd: now + 30 * 86_400,
          metadata: (request.body.metadata ?? {}) as Record<string, string>,
          settings: {
            ...(request.body.collection_method === undefined ? {} : { collection_method: request.body.collection_method as FakeSubscriptionSettings['collection_method'] }),
            ...(request.body.days_until_due === undefined ? {} : { days_until_due: Number(request.body.days_until_due) }),
          },
        });
        return { body: this.#subscriptionObject(this.#subscriptions.get(id) as FakeSubscription) };
      }),
      // Cancel a subscription now (https://docs.stripe.com/api/subscriptions/cancel).
      compile('DELETE', '/v1/subscriptions/:id', (request, { id }) => {
        const subscription = subscriptionOr404(id as string);
        if (!subscription) return notFound(`No such subscription: '${id}'`);
        if (subscription.status === 'canceled') return stripeError(400, { type: 'invalid_request_error', message: `A canceled subscription can't be canceled again: '${subscription.id}'.` });
        this.#cancel(subscription, { prorate: asBoolean(request.body.prorate) === true, invoiceNow: asBoolean(request.body.invoice_now) === true });
        return { body: this.#subscriptionObject(subscription) };
      }),
      // Create a customer (https://docs.stripe.com/api/customers/create).
      compile('POST', '/v1/customers', (request) => {
        const customer = {
          ...example('customer'),
          id: this.#id('cus'),
          created: Math.floor(Date.now() / 1000),
          name: request.body.name ?? null,
          email: request.body.email ?? null,
          description: request.body.description ?? null,
          metadata: request.body.metadata ?? {},
          discount: null,
        };
        this.#customers.set(customer.id, customer);
        return { body: customer };
      }),
      // Retrieve a customer (https://docs.stripe.com/api/customers/retrieve): a deleted one answers its deleted
      // object; one this fake did not make exists if a seeded subscription names it.
      compile('GET', '/v1/customers/:id', (_request, { id }) => {
        const customerId = id as string;
        if (this.#deletedCustomers.has(customerId)) return { body: { ...example('deleted_customer'), id: customerId } };
        const made = this.#customers.get(customerId);
        if (made) return { body: made };
        if (this.subscriptionsOf(customerId).length > 0) return { body: { ...example('customer'), id: customerId, discount: null } };
        return notFound(`No such customer: '${customerId}'`);
      }),
      // List subscriptions (https://docs.stripe.com/api/subscriptions/list): by `customer` and `status` (default:
      // every status but canceled; `all` includes them), `limit` 1–100 (default 10).
      compile('GET', '/v1/subscriptions', (request) => {
        const limit = request.form.limit === undefined ? 10 : Number(request.form.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) return stripeError(400, { type: 'invalid_request_error', param: 'limit', message: 'This value must be between 1 and 100.' });
        const status = request.form.status;
        const all = [...this.#subscriptions.values()].filter(
          (subscription) =>
            (request.form.customer === undefined || subscription.customer === request.form.customer) &&
            (status === 'all' || (status === undefined ? subscription.status !== 'canceled' : subscription.status === status)),
        );
        return { body: { object: 'list', url: '/v1/subscriptions', has_more: all.length > limit, data: all.slice(0, limit).map((subscription) => this.#subscriptionObject(subscription)) } };
      }),
      // Delete a customer (https://docs.stripe.com/api/customers/delete): its subscriptions are cancelled at once.
      compile('DELETE', '/v1/customers/:id', (_request, { id }) => {
        const customer = id as string;
        if (this.#deletedCustomers.has(customer)) return notFound(`No such customer: '${customer}'`);
        this.#deletedCustomers.add(customer);
        for (const subscription of this.#subscriptions.values()) {
          if (subscription.customer === customer && subscription.status !== 'canceled') this.#cancel(subscription, { prorate: false, invoiceNow: false });
        }
        return { body: { ...example('deleted_customer'), id: customer } };
      }),
      compile('GET', '/v1/subscriptions/:id', (request, { id }) => {
        const subscription = subscriptionOr404(id as string);
        return subscription ? { body: this.#subscriptionObject(subscription, request.body.expand as unknown[]) } : notFound(`No such subscription: '${id}'`);
      }),
      compile('POST', '/v1/subscriptions/:id', (request, { id }) => {
        const subscription = subscriptionOr404(id as string);
        if (!subscription) return notFound(`No such subscription: '${id}'`);
        if (subscription.status === 'canceled') return stripeError(400, { type: 'invalid_request_error', message: 'A canceled subscription can only update its cancellation_details and metadata.' });
        const items = (request.body.items ?? []) as Form[];
        const before = { price: subscription.priceId, quantity: subscription.quantity };
        for (const item of items) {
          if (item.id !== subscription.itemId) return stripeError(400, { type: 'invalid_request_error', param: 'items[0][id]', message: `No such subscription item: '${String(item.id)}'` });
          if (subscription.metered && item.quantity !== undefined) return meteredQuantity('items[0][quantity]');
          const after = FakeStripeServer.#itemAfter(subscription, item);
          subscription.priceId = after.price;
          subscription.quantity = after.quantity;
          // The item's other fields are kept unless sent.
          if (item.tax_rates !== undefined) subscription.item.tax_rates = asStrings(item.tax_rates);
          if (item.metadata !== undefined) Object.assign(subscription.item.metadata, item.metadata);
        }
        Object.assign(subscription.metadata, request.body.metadata ?? {});
        // always_invoice invoices the proration at once; there is none when the price did not change or during a trial.
        if (request.body.proration_behavior === 'always_invoice' && subscription.priceId !== before.price && subscription.status !== 'trialing') {
          const sent = subscription.settings.collection_method === 'send_invoice';
          const { total, lines } = this.#proration(subscription.currency, before, { price: subscription.priceId, quantity: subscription.quantity });
          const invoice = this.#newInvoice(subscription, { status: sent ? 'open' : 'paid', total, amount_due: total, amount_paid: sent ? 0 : total, amount_remaining: sent ? total : 0, lines });
          subscription.latestInvoiceId = invoice.id as string;
        }
        return { body: this.#subscriptionObject(subscription, request.body.expand as unknown[]) };
      }),
      compile('POST', '/v1/invoices/create_preview', (request) => {
        const subscription = subscriptionOr404(String(request.body.subscription));
        if (!subscription) return notFound(`No such subscription: '${String(request.body.subscription)}'`);
        const details = (request.body.subscription_details ?? {}) as { items?: Form[] };
        const { total, lines } = this.#proration(subscription.currency, { price: subscription.priceId, quantity: subscription.quantity }, FakeStripeServer.#itemAfter(subscription, details.items?.[0]));
        return {
          body: {
            id: `upcoming_${subscription.id}`,
            object: 'invoice',
            customer: subscription.customer,
            currency: subscription.currency,
            status: 'draft',
            total,
            amount_due: total,
            lines,
          },
        };
      }),
      // List invoices: newest first (created, then the later id first), `limit` 1–100 (default 10) after
      // `starting_after` (https://docs.stripe.com/api/invoices/list, https://docs.stripe.com/api/pagination).
      compile('GET', '/v1/invoices', (request) => {
        const limit = request.form.limit === undefined ? 10 : Number(request.form.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
          return stripeError(400, { type: 'invalid_request_error', param: 'limit', message: 'This value must be between 1 and 100.' });
        }
        const order = (invoice: Record<string, unknown>) => [Number(invoice.created), Number(String(invoice.id).replace(/\D/g, ''))] as const;
        const all = [...this.#invoices.values()]
          .filter((invoice) => request.form.customer === undefined || invoice.customer === request.form.customer)
          .sort((a, b) => order(b)[0] - order(a)[0] || order(b)[1] - order(a)[1]);
        const after = request.form.starting_after;
        const start = after === undefined ? 0 : all.findIndex((invoice) => invoice.id === after) + 1;
        if (after !== undefined && start === 0) return notFound(`No such invoice: '${after}'`);
        const data = all.slice(start, start + limit);
        return { body: { object: 'list', url: '/v1/invoices', has_more: start + limit < all.length, data } };
      }),
      compile('GET', '/v1/invoices/:id', (_request, { id }) => {
        const invoice = this.#invoices.get(id as string);
        return invoice ? { body: invoice } : notFound(`No such invoice: '${id}'`);
      }),
      compile('POST', '/v1/invoices/:id/void', (_request, { id }) => {
        const invoice = this.#invoices.get(id as string);
        if (!invoice) return notFound(`No such invoice: '${id}'`);
        if (invoice.status !== 'open') return stripeError(400, { type: 'invalid_request_error', message: `You can only void open invoices; this one is ${String(invoice.status)}.` });
        invoice.status = 'void';
        return { body: invoice };
      }),
      compile('POST', '/v1/credit_notes', (request) => {
        const invoice = this.#invoices.get(String(request.body.invoice));
        if (!invoice) return notFound(`No such invoice: '${String(request.body.invoice)}'`);
        const creditNote = {
          ...example('credit_note'),
          id: this.#id('cn'),
          object: 'credit_note',
          invoice: invoice.id,
          currency: invoice.currency,
          status: 'issued',
          amount: Number(request.body.amount),
          refund_amount: request.body.refund_amount === undefined ? 0 : Number(request.body.refund_amount),
          credit_amount: request.body.credit_amount === undefined ? 0 : Number(request.body.credit_amount),
          reason: request.body.reason ?? null,
          memo: request.body.memo ?? null,
          metadata: request.body.metadata ?? {},
        };
        this.#creditNotes.push(creditNote);
        return { body: creditNote };
      }),
      compile('GET', '/v1/credit_notes', (request) => ({
        body: {
          object: 'list',
          url: '/v1/credit_notes',
          has_more: false,
          data: this.#creditNotes.filter((note) => request.body.invoice === undefined || note.invoice === request.body.invoice),
        },
      })),
      compile('POST', '/v1/subscription_schedules', (request) => {
        const subscription = subscriptionOr404(String(request.body.from_subscription));
        if (!subscription) return notFound(`No such subscription: '${String(request.body.from_subscription)}'`);
        if (subscription.scheduleId) {
          return stripeError(400, {
            type: 'invalid_request_error',
            param: 'from_subscription',
            message: `You cannot migrate a subscription that is already attached to a schedule: \`${subscription.scheduleId}\`.`,
          });
        }
        const schedule: Record<string, unknown> = {
          ...example('subscription_schedule'),
          id: this.#id('sub_sched'),
          object: 'subscription_schedule',
          customer: subscription.customer,
          subscription: subscription.id,
          status: 'active',
          end_behavior: 'release',
          canceled_at: null,
          completed_at: null,
          released_at: null,
          released_subscription: null,
          metadata: {},
          current_phase: { start_date: subscription.periodStart, end_date: subscription.periodEnd },
          phases: [this.#phaseFromSubscription(subscription)],
        };
        subscription.scheduleId = schedule.id as string;
        this.#schedules.set(schedule.id as string, schedule);
        return { body: schedule };
      }),
      compile('GET', '/v1/subscription_schedules/:id', (_request, { id }) => {
        const schedule = scheduleOr404(id as string);
        return schedule ? { body: schedule } : notFound(`No such subscription schedule: '${id}'`);
      }),
      compile('POST', '/v1/subscription_schedules/:id', (request, { id }) => {
        const schedule = scheduleOr404(id as string);
        if (!schedule) return notFound(`No such subscription schedule: '${id}'`);
        const currency = String((schedule.phases as Form[])[0]?.currency ?? 'usd');
        const metered = this.#subscriptions.get(String(schedule.subscription))?.metered === true;
        const phases = (request.body.phases ?? []) as Form[];
        if (metered && phases.some((phase) => (phase.items as Form[]).some((item) => item.quantity !== undefined))) return meteredQuantity('phases[0][items][0][quantity]');
        if (request.body.phases) schedule.phases = (request.body.phases as Form[]).map((phase) => this.#phaseFromRequest(phase, currency));
        if (request.body.end_behavior) schedule.end_behavior = request.body.end_behavior;
        if (request.body.metadata) schedule.metadata = request.body.metadata;
        return { body: schedule };
      }),
      compile('POST', '/v1/subscription_schedules/:id/release', (_request, { id }) => {
        const schedule = scheduleOr404(id as string);
        if (!schedule) return notFound(`No such subscription schedule: '${id}'`);
        if (schedule.status !== 'active' && schedule.status !== 'not_started') {
          return stripeError(400, { type: 'invalid_request_error', message: `You cannot release a subscription schedule that is currently in the \`${String(schedule.status)}\` status.` });
        }
        schedule.status = 'released';
        schedule.released_at = Math.floor(Date.now() / 1000);
        schedule.released_subscription = schedule.subscription;
        const subscription = this.#subscriptions.get(String(schedule.subscription));
        if (subscription) subscription.scheduleId = null;
        schedule.subscription = null;
        return { body: schedule };
      }),
    ];
  }
}
