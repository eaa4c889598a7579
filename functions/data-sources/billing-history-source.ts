/**
 * Billing history: the tenant's invoices through the billing port (Stripe on AWS; the local ledger's entries when
 * no Stripe key is configured). Invoices are kept by Stripe, and must be kept by the operator, for the tax
 * record-keeping period (e.g. ten years under German §147 AO; GDPR Art. 17(3)(b) exempts them from erasure), so
 * purge deletes nothing here: it reports how many records it kept (`retained`), and verifyPurged counts them as
 * retained, not as remaining. Deleting the Stripe customer (which Stripe itself answers by keeping its invoices)
 * is the hard-delete workflow's step, not this source's. The local ledger's items (`TENANT#<id>` / `LEDGER#...`)
 * are owned here, and kept the same way, so a local hard delete behaves as one on AWS.
 */
import { LEDGER_SK_PREFIX } from '../billing/ledger-billing';
import type { BillingAccount, BillingPort } from '../billing/billing-port';
import * as z from 'zod';
import { decodeSourceCursor, encodeSourceCursor } from './cursor';
import type { DataPage, DataRecord } from './data-source';
import type { TableDataSource, TableItemKind } from './table-source';

/** Stripe lists at most 100 invoices a page. */
const MAX_PAGE = 100;
const POSITION = z.object({ startingAfter: z.string().regex(/^[A-Za-z0-9_#:.-]{1,255}$/) }).strict();

export interface BillingHistorySourceOptions {
  readonly billing: BillingPort;
  /** The tenant's Stripe account (the tenant record's `billing`); undefined when it has none (or no record). */
  readonly accountOf: (tenantId: string) => Promise<BillingAccount | undefined>;
}

export class BillingHistorySource implements TableDataSource {
  readonly name = 'billing';
  readonly tableItems: readonly TableItemKind[] = [{ name: 'local ledger entry', pkPrefix: 'TENANT#', skPrefix: LEDGER_SK_PREFIX }];
  readonly retention = {
    basis:
      'Invoices are accounting records that the law obliges us and Stripe to keep for the tax retention period (GDPR Art. 17(3)(b)); they are exported but not erased.',
  } as const;
  readonly description = {
    summary:
      'Billing history: the tenant\'s invoices as Stripe keeps them (newest first), or, without Stripe, what the local ledger recorded would have been billed. Kept after deletion for the tax retention period.',
    fields: {
      id: 'Stripe invoice id (in_...), or the ledger entry (<operation id>#<kind>).',
      number: 'The invoice number, when it has one.',
      status: 'draft, open, paid, uncollectible or void (Stripe); recorded (local ledger: nothing was charged).',
      currency: 'ISO 4217 currency code, lowercase.',
      total: 'Total (the currency\'s minor unit, e.g. cents; negative for a credit).',
      amountDue: 'Amount due (minor unit).',
      amountPaid: 'Amount paid (minor unit).',
      created: 'When it was created (ISO 8601, UTC).',
      periodStart: 'Start of the billing period it covers (ISO 8601, UTC).',
      periodEnd: 'End of that period (ISO 8601, UTC).',
      description: 'Its description, if any.',
      lines: 'Its lines: description and amount (minor unit).',
      linesComplete: 'false when the invoice has more lines than listed here (the hosted invoice has them all).',
      hostedInvoiceUrl: 'Stripe\'s page for the invoice, if any.',
      source: 'Where it comes from: stripe or local-ledger.',
    },
  } as const;
  readonly #options: BillingHistorySourceOptions;

  constructor(options: BillingHistorySourceOptions) {
    this.#options = options;
  }

  async count(tenantId: string): Promise<number> {
    const account = await this.#options.accountOf(tenantId);
    let total = 0;
    let startingAfter: string | undefined;
    for (;;) {
      const page = await this.#options.billing.listInvoices({ tenantId, account, limit: MAX_PAGE, startingAfter });
      total += page.invoices.length;
      if (!page.hasMore || page.invoices.length === 0) return total;
      startingAfter = page.invoices[page.invoices.length - 1]?.id;
    }
  }

  async exportPage(tenantId: string, cursor: string | null, limit: number): Promise<DataPage> {
    const position = cursor === null ? undefined : decodeSourceCursor(this.name, tenantId, cursor, POSITION);
    const account = await this.#options.accountOf(tenantId);
    const page = await this.#options.billing.listInvoices({ tenantId, account, limit: Math.min(Math.max(limit, 1), MAX_PAGE), startingAfter: position?.startingAfter });
    const records: DataRecord[] = page.invoices.map((invoice) => ({ ...invoice, source: this.#options.billing.name }));
    const last = page.invoices[page.invoices.length - 1];
    return { records, nextCursor: page.hasMore && last ? encodeSourceCursor(this.name, tenantId, { startingAfter: last.id }) : null };
  }

  /** Deletes nothing: invoices are kept by law (see `retention`). */
  async purge(tenantId: string): Promise<{ readonly deleted: number; readonly retained: number }> {
    return { deleted: 0, retained: await this.count(tenantId) };
  }

  async verifyPurged(tenantId: string): Promise<{ readonly remaining: number; readonly retained: number }> {
    return { remaining: 0, retained: await this.count(tenantId) };
  }
}
