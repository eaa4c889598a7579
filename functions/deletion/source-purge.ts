/**
 * Purging a tenant's data sources one at a time, as a workflow's steps do it: the hard delete (hard-delete-steps.ts)
 * and a reactivation's fresh start (functions/reactivation/). Each source's count before, its purge and its
 * verification are recorded on the operation (`facts`), so a retried step keeps the first count and the
 * certificate is built from the record, not from the execution's state. Names no workflow.
 */
import * as clock from '../shared/clock';
import type { DataSource } from '../data-sources/data-source';
import type { Operation, OperationStore } from '../operations/operation-store';
import { logger } from '../shared/powertools';
import type { CertificateSource } from './deletion-certificate';

/**
 * A data source still holds records of the tenant after its purge: the ASL retries verification with backoff
 * (deletes that are eventually consistent, as Pinecone's), then fails the workflow if it persists.
 */
export class ResidualDataError extends Error {
  constructor(source: string, remaining: number) {
    super(`Data source '${source}' still holds ${remaining} record(s) of the tenant after its purge.`);
    this.name = 'ResidualDataError';
  }
}

/** The facts a purge and a verification record on the operation, by source. */
export const purgeFact = (source: string) => `purge:${source}`;
export const verifyFact = (source: string) => `verify:${source}`;

export interface PurgeFact {
  /** Records the source held when first counted. */
  readonly before: number;
  /** When the purge ran (ISO 8601); absent while only counted. */
  readonly purgedAt?: string;
  /** Records the purge kept on purpose (the source's `retention`). */
  readonly retained?: number;
}
export interface VerifyFact {
  readonly verifiedAt: string;
  readonly retained: number;
}

/** What a purge step needs: the operation store, the sources in registry order (purged in reverse), the clock. */
export interface SourcePurgeDependencies {
  readonly operations: OperationStore;
  readonly sources: () => Promise<readonly DataSource[]>;
  readonly now?: () => Date;
}

/** The sources' names in purge order: reverse registry order (the tenant record last). */
export async function purgeOrder(deps: Pick<SourcePurgeDependencies, 'sources'>): Promise<string[]> {
  return (await deps.sources()).map((source) => source.name).reverse();
}

/** The source named `name`; `incomplete(message)` is thrown when none is. */
export async function sourceNamed(deps: Pick<SourcePurgeDependencies, 'sources'>, name: string, incomplete: (message: string) => Error): Promise<DataSource> {
  const source = (await deps.sources()).find((candidate) => candidate.name === name);
  if (!source) throw incomplete(`No data source is named '${name}'.`);
  return source;
}

/**
 * Purge source `name` of `operation`'s tenant: its count before (recorded once, so a retried purge keeps the first
 * count), then the purge, recorded. One source at a time, in purge order: `incomplete(message)` is thrown for a source
 * while one ahead of it is unverified, whatever runs the Map (the local emulator may start the next iteration of a
 * Map whose iteration failed). Throws what the source throws, and OperationEndedError once the operation ended.
 */
export async function purgeSource(deps: SourcePurgeDependencies, operation: Operation, name: string, incomplete: (message: string) => Error): Promise<PurgeFact> {
  const source = await sourceNamed(deps, name, incomplete);
  const order = await purgeOrder(deps);
  const unverified = order.slice(0, order.indexOf(name)).find((ahead) => operation.facts[verifyFact(ahead)] === undefined);
  if (unverified) throw incomplete(`Data source '${name}' is not purged before '${unverified}', ahead of it, is verified.`);
  const recorded = operation.facts[purgeFact(name)] as PurgeFact | undefined;
  const before = recorded?.before ?? (await source.count(operation.tenantId));
  if (!recorded) await deps.operations.recordStep(operation.operationId, `counted:${name}`, { [purgeFact(name)]: { before } });
  const result = await source.purge(operation.tenantId);
  const fact: PurgeFact = { before, purgedAt: clock.nowOf(deps).toISOString(), retained: result.retained ?? 0 };
  await deps.operations.recordStep(operation.operationId, `purged:${name}`, { [purgeFact(name)]: fact });
  return fact;
}

/**
 * Verify source `name` holds nothing of the tenant but what it keeps by law, and record it; ResidualDataError
 * (retried by the ASL) while records remain.
 */
export async function verifySource(deps: SourcePurgeDependencies, operation: Pick<Operation, 'operationId' | 'tenantId'>, name: string, incomplete: (message: string) => Error): Promise<VerifyFact> {
  const source = await sourceNamed(deps, name, incomplete);
  const result = await source.verifyPurged(operation.tenantId);
  if (result.remaining > 0) {
    logger.warn('Residual data after purge', { source: name, remaining: result.remaining });
    throw new ResidualDataError(name, result.remaining);
  }
  const fact: VerifyFact = { verifiedAt: clock.nowOf(deps).toISOString(), retained: result.retained ?? 0 };
  await deps.operations.recordStep(operation.operationId, `verified:${name}`, { [verifyFact(name)]: fact });
  return fact;
}

/**
 * Every source, in purge order, as a certificate states it: its count before, what was deleted and kept (with the
 * source's legal basis), the verification. `incomplete(message)` is thrown for a source with no recorded purge or
 * verification: nothing claims success that was not checked.
 */
export async function certificateSources(deps: Pick<SourcePurgeDependencies, 'sources'>, operation: Operation, incomplete: (message: string) => Error): Promise<CertificateSource[]> {
  return [...(await deps.sources())].reverse().map((source) => {
    const purged = operation.facts[purgeFact(source.name)] as PurgeFact | undefined;
    const verified = operation.facts[verifyFact(source.name)] as VerifyFact | undefined;
    if (!purged?.purgedAt || !verified) throw incomplete(`Data source '${source.name}' has no recorded ${purged?.purgedAt ? 'verification' : 'purge'}: no certificate is written.`);
    const retained = verified.retained;
    return {
      source: source.name,
      before: purged.before,
      deleted: Math.max(0, purged.before - retained),
      purgedAt: purged.purgedAt,
      verification: { result: 'empty', remaining: 0, verifiedAt: verified.verifiedAt },
      ...(retained > 0 && source.retention ? { retained: { count: retained, basis: source.retention.basis } } : {}),
    };
  });
}
