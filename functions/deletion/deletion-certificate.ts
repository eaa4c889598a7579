/**
 * The deletion certificate: the proof of a tenant's erasure (GDPR Art. 17, accountability Art. 5(2)), written by
 * the hard delete's last step in the same transaction as the tombstone. One item in the tenant's partition
 * (`TENANT#<id>` / `DELETION_CERTIFICATE`), owned by the audit source (functions/data-sources/audit-source.ts),
 * which keeps it with the audit trail. It names no personal data: ids, counts, times, legal bases.
 *
 * `sha256` is the SHA-256 (hex) of the certificate's canonical content: every field but `sha256`, as JSON with
 * object keys sorted and no whitespace. For the values a certificate holds (strings, integers, booleans, null,
 * arrays, objects) this is the JSON Canonicalization Scheme's output (RFC 8785), so anyone can recompute it.
 */
import { createHash } from 'node:crypto';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { HardDeleteTrigger } from './hard-delete-definition';
import { tenantPk } from '../tenants/tenant-table';

/** The certificate item's sort key in the tenant's partition. */
export const DELETION_CERTIFICATE_SK = 'DELETION_CERTIFICATE';

/**
 * Where a certificate is kept once its tenant has come back (a deleted tenant's fresh start): moved from
 * DELETION_CERTIFICATE_SK to `ARCHIVED_DELETION_CERTIFICATE#<certificateId>` in the reactivation's transaction, so the proof of
 * that erasure stays and a later deletion of the same tenant writes its own certificate.
 */
export const ARCHIVED_CERTIFICATE_SK_PREFIX = 'ARCHIVED_DELETION_CERTIFICATE#';

/** The sort-key prefix of a reactivation's purge certificate (a fresh start from soft-deleted: functions/reactivation/). */
export const PURGE_CERTIFICATE_SK_PREFIX = 'PURGE_CERTIFICATE#';

/** What one data source held and what became of it. */
export interface CertificateSource {
  /** The data source's registry name (`documents`, `vectors`, ...). */
  readonly source: string;
  /** Records it held when the purge started (its `count`). */
  readonly before: number;
  /** Records the purge deleted. */
  readonly deleted: number;
  /** When it was purged (ISO 8601, UTC). */
  readonly purgedAt: string;
  /** The verification: `empty` (nothing left but what is retained) once `remaining` was 0. */
  readonly verification: { readonly result: 'empty'; readonly remaining: 0; readonly verifiedAt: string };
  /** Records kept on purpose, and why (GDPR Art. 17(3)); absent when none are kept. */
  readonly retained?: { readonly count: number; readonly basis: string };
}

/** A legal hold the tenant was under during its soft delete (from its audit trail). */
export interface CertificateLegalHold {
  readonly event: 'place_legal_hold' | 'release_legal_hold';
  readonly at: string;
  readonly actor: string;
  readonly reason?: string;
}

export interface DeletionCertificate {
  readonly certificateId: string;
  readonly tenantId: string;
  /** The hard delete's operation (its execution name). */
  readonly operationId: string;
  /** The soft delete: when and by whom it was asked, the retention and the deadline. */
  readonly deletion: { readonly requestedAt: string; readonly requestedBy: string; readonly retentionDays: number; readonly deadline: string };
  /** When the hard delete was allowed to run. */
  readonly window: { readonly opensAt: string; readonly closesAt: string };
  /** What started the run, and when it was due. */
  readonly trigger: { readonly kind: HardDeleteTrigger; readonly scheduledAt: string };
  /** When the hard delete started and completed (ISO 8601, UTC). */
  readonly startedAt: string;
  readonly completedAt: string;
  /** Completed within the window, or late by how many seconds (a compliance violation is then in the audit trail). */
  readonly timeliness: { readonly onTime: true } | { readonly onTime: false; readonly latenessSeconds: number };
  /** Every data source of the registry, in the order they were purged. */
  readonly sources: readonly CertificateSource[];
  /** The billing customer: deleted at the provider, or there was none. */
  readonly billingCustomer: { readonly deleted: boolean; readonly at: string };
  readonly legalHolds: readonly CertificateLegalHold[];
  /** What is left of the tenant: the tombstone's fields (no personal data), the audit trail and this certificate. */
  readonly tombstoneFields: readonly string[];
  /** SHA-256 (hex) of the canonical content (see the module's comment). */
  readonly sha256: string;
}

/** JSON with object keys sorted, no whitespace (RFC 8785 for strings, integers, booleans, null, arrays, objects). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, v]) => `${JSON.stringify(key)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A certificate's hash: SHA-256 (hex) of canonicalJson of every field but `sha256` (a deletion certificate, or a
 * fresh start's purge certificate: functions/reactivation/).
 */
export function certificateHash(certificate: object & { readonly sha256?: string }): string {
  const { sha256: _, ...content } = certificate;
  return createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex');
}

/** Any certificate's content with its hash (certificateHash): the deletion certificate's, a purge certificate's. */
export function sealed<T extends object>(content: T): T & { readonly sha256: string } {
  return { ...content, sha256: certificateHash(content) };
}

/** The deletion certificate with its hash. */
export function sealCertificate(content: Omit<DeletionCertificate, 'sha256'>): DeletionCertificate {
  return sealed(content);
}

/** The certificate's table item (for the complete step's transaction). */
export function certificateItem(certificate: DeletionCertificate): Record<string, unknown> {
  return { pk: tenantPk(certificate.tenantId), sk: DELETION_CERTIFICATE_SK, type: 'deletion-certificate', ...certificate };
}

/** The certificate's item at its archived key (a reactivation moves it there: ARCHIVED_CERTIFICATE_SK_PREFIX). */
export function archivedCertificateItem(certificate: DeletionCertificate): Record<string, unknown> {
  return { ...certificateItem(certificate), sk: `${ARCHIVED_CERTIFICATE_SK_PREFIX}${certificate.certificateId}` };
}

/** The tenant's deletion certificate, or undefined when it has none (not deleted, or no such tenant). */
export async function findCertificate(client: DynamoDBDocumentClient, tableName: string, tenantId: string): Promise<DeletionCertificate | undefined> {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: tenantPk(tenantId), sk: DELETION_CERTIFICATE_SK }, ConsistentRead: true }));
  if (!Item) return undefined;
  const { pk: _pk, sk: _sk, type: _type, ...certificate } = Item;
  return certificate as DeletionCertificate;
}
