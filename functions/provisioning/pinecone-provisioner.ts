/**
 * The Pinecone adapter of the provisioning port: where a tenant's vectors live (DESIGN.md "Resources per
 * plan"). Lower plans keep namespace `tenant_<id>` in the shared pooled index, enterprise gets a dedicated
 * index; moving between the two is a data migration, done here as copy → verify, and cleaned up by `release`.
 *
 * Limits and request rate need nothing from Pinecone (the application plane enforces them from the tenant
 * item), so a plan change that keeps the placement makes no Pinecone call at all.
 *
 * What `release(tenant, op)` deletes is decided by a small ledger keyed by (tenant, operation):
 *  - a migrating operation records its NEW copy (the dedicated index, if it created it, or else the target
 *    namespace it populated): release after a failure deletes only that copy, never the original;
 *  - at the same time it records, under the operation that provisioned the CURRENT placement
 *    (`current.provisionedBy`), that this placement is the one to clean up: `commitPlan` calls
 *    release(previous op) after a successful commit, which then deletes the old placement;
 *  - an operation that keeps the placement records "nothing to release" for itself and for the previous
 *    operation, because both now point at the same, live data.
 * The workflow runs provision after the read-only window and the query drain, so no write races the copy.
 *
 * Limitation: a tenant whose current resources carry no `provisionedBy` (provisioned before this adapter) has
 * no operation to release after a commit; `commitPlan` calls nothing then and the old placement stays (an
 * operator cleans it up, or the caller passes the old placement in a future extension). A record that is
 * missing for an operation makes release a no-op.
 */
import * as clock from '../shared/clock';
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Pinecone, PineconeRecord } from '@pinecone-database/pinecone';
import { causedBy, fromSecret, type SecretsManagerSource } from '../shared/secret-value';
import { tenantPk } from '../tenants/tenant-table';
import { needsMigration, type PlanResources, type VectorPlacement } from './plan-resources';
import { DeferredProvisioner, ProvisioningTransientError, type ResourceProvisioner } from './provisioner';

/** What one operation's provisioning holds in Pinecone, and what releasing it deletes. */
export interface ProvisioningRecord {
  readonly placement: VectorPlacement;
  /** `index`: delete the dedicated index; `namespace`: delete every vector of the namespace; `nothing`. */
  readonly releases: 'index' | 'namespace' | 'nothing';
  /** Whether this operation created the dedicated index (as opposed to finding it there). */
  readonly createdIndex: boolean;
  readonly at: string;
}

/** Remembers, per (tenant, operation), what was provisioned; backed by DynamoDB on AWS. */
export interface ProvisioningLedger {
  put(tenantId: string, operationId: string, record: ProvisioningRecord): Promise<void>;
  get(tenantId: string, operationId: string): Promise<ProvisioningRecord | undefined>;
  delete(tenantId: string, operationId: string): Promise<void>;
}

export class InMemoryProvisioningLedger implements ProvisioningLedger {
  readonly records = new Map<string, ProvisioningRecord>();
  async put(tenantId: string, operationId: string, record: ProvisioningRecord): Promise<void> {
    this.records.set(`${tenantId}/${operationId}`, record);
  }
  async get(tenantId: string, operationId: string): Promise<ProvisioningRecord | undefined> {
    return this.records.get(`${tenantId}/${operationId}`);
  }
  async delete(tenantId: string, operationId: string): Promise<void> {
    this.records.delete(`${tenantId}/${operationId}`);
  }
}

export interface PineconeProvisionerOptions {
  readonly pinecone: Pinecone;
  /** Dimension of the tenants' embeddings (the dedicated index is created with it). */
  readonly dimension: number;
  readonly metric?: 'cosine' | 'euclidean' | 'dotproduct';
  readonly cloud: 'aws';
  readonly region: string;
  readonly state: ProvisioningLedger;
  /** Ids listed (and fetched) per page of the copy; memory is constant per page. Default 100 (Pinecone's max). */
  readonly pageSize?: number;
  /** How many times the vector counts are compared before giving up (eventual consistency). Default 6. */
  readonly verifyAttempts?: number;
  /** First wait between count checks, doubled each time. Default 1000 ms. */
  readonly verifyBaseDelayMs?: number;
  /** How long `createIndex` waits for the index to be ready. Default 120 s (the ASL retries beyond that). */
  readonly readyTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => Date;
}

/** Names of SDK errors worth retrying: no answer, 5xx (after the SDK's own retries), not ready yet. */
const TRANSIENT_ERRORS = new Set([
  'PineconeConnectionError',
  'PineconeMaxRetriesExceededError',
  'PineconeInternalServerError',
  'PineconeUnavailableError',
  'PineconeTimeoutError',
  'PineconeUnableToResolveHostError',
  'FetchError',
]);
/** Upsert requests stay under Pinecone's 2 MB limit: about 24 bytes of JSON per float plus metadata. */
const UPSERT_BYTES = 1_800_000;

function isNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'PineconeNotFoundError';
}

/** SDK error → ProvisioningTransientError (network, 429, 5xx) or a plain Error that says what was refused. */
export function mapPineconeError(error: unknown, doing: string): Error {
  if (error instanceof ProvisioningTransientError) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  const status = name === 'PineconeUnmappedHttpError' ? /Status: (\d{3})/.exec(message)?.[1] : undefined;
  if (TRANSIENT_ERRORS.has(name) || status === '429' || (status !== undefined && status.startsWith('5'))) {
    return new ProvisioningTransientError(`Pinecone is unavailable while ${doing} (${name}): ${message}`, { cause: error });
  }
  return new Error(`Pinecone refused ${doing} (${name || 'error'}): ${message}`, { cause: error });
}

export class PineconeProvisioner implements ResourceProvisioner {
  readonly name = 'pinecone';
  readonly #pc: Pinecone;
  readonly #options: PineconeProvisionerOptions;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: PineconeProvisionerOptions) {
    this.#pc = options.pinecone;
    this.#options = options;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async provision(tenantId: string, operationId: string, resources: PlanResources, current?: PlanResources): Promise<void> {
    const target = resources.vectors;
    const previous = current?.provisionedBy !== undefined && current.provisionedBy !== operationId ? current.provisionedBy : undefined;

    if (!current || !needsMigration(current, resources)) {
      // Same placement: nothing moves. Never provisioned: a dedicated index still has to exist (empty).
      let record = this.#record(target, 'nothing', false);
      if (!current && target.kind === 'dedicated') record = await this.#ensureDedicatedIndex(tenantId, operationId, target);
      await this.#options.state.put(tenantId, operationId, record);
      // Both operations now point at the same live data: releasing the previous one must delete nothing.
      if (previous && current) await this.#options.state.put(tenantId, previous, this.#record(current.vectors, 'nothing', false));
      return;
    }

    // After this commit the current placement is the old one: releasing its operation cleans it up.
    if (previous) {
      const old = current.vectors;
      await this.#options.state.put(tenantId, previous, this.#record(old, old.kind === 'dedicated' ? 'index' : 'namespace', false));
    }
    const record =
      target.kind === 'dedicated'
        ? await this.#ensureDedicatedIndex(tenantId, operationId, target)
        : this.#record(target, 'namespace', false);
    await this.#options.state.put(tenantId, operationId, record);
    await this.#copy(current.vectors, target);
    await this.#verify(current.vectors, target);
  }

  async release(tenantId: string, operationId: string): Promise<void> {
    const record = await this.#options.state.get(tenantId, operationId);
    if (!record) return;
    const { placement } = record;
    // The pooled index is shared by every tenant: only ever one namespace of it is deleted.
    const releases = record.releases === 'index' && placement.kind === 'pooled' ? 'namespace' : record.releases;
    if (releases === 'index') {
      await this.#call(`deleting index '${placement.index}'`, () => this.#pc.deleteIndex(placement.index), { notFound: undefined });
    } else if (releases === 'namespace') {
      await this.#call(
        `deleting namespace '${placement.namespace}' of index '${placement.index}'`,
        () => this.#pc.index(placement.index).namespace(placement.namespace).deleteAll(),
        { notFound: undefined },
      );
    }
    await this.#options.state.delete(tenantId, operationId);
  }

  #record(placement: VectorPlacement, releases: ProvisioningRecord['releases'], createdIndex: boolean): ProvisioningRecord {
    return { placement, releases, createdIndex, at: clock.nowOf(this.#options).toISOString() };
  }

  /**
   * Create the dedicated index (idempotent). The claim "created by this operation" is written before the
   * create, so a crash right after it still releases the index; an index found already there (409) is not
   * claimed, and only its namespace is released.
   */
  async #ensureDedicatedIndex(tenantId: string, operationId: string, target: VectorPlacement): Promise<ProvisioningRecord> {
    const claimed = (await this.#options.state.get(tenantId, operationId))?.createdIndex === true;
    if (!claimed) await this.#options.state.put(tenantId, operationId, this.#record(target, 'index', true));
    const { dimension, metric = 'cosine', cloud, region, readyTimeoutMs = 120_000 } = this.#options;
    const created = await this.#call(`creating index '${target.index}'`, () =>
      this.#pc.createIndex({
        name: target.index,
        dimension,
        metric,
        spec: { serverless: { cloud, region } },
        waitUntilReady: true,
        timeout: readyTimeoutMs,
        suppressConflicts: true,
      }),
    );
    if (!created) {
      // 409: the SDK skips waitUntilReady for an existing index, so check readiness here.
      const model = await this.#call(`describing index '${target.index}'`, () => this.#pc.describeIndex(target.index));
      if (!model.status?.ready) {
        throw new ProvisioningTransientError(`Index '${target.index}' exists but is not ready yet (state ${model.status?.state ?? 'unknown'}).`);
      }
      if (!claimed) return this.#record(target, 'namespace', false);
    }
    return this.#record(target, 'index', true);
  }

  /** Copy every vector of the source namespace, page by page: list ids → fetch → upsert. Upserts are idempotent. */
  async #copy(from: VectorPlacement, to: VectorPlacement): Promise<void> {
    const source = this.#pc.index(from.index).namespace(from.namespace);
    const target = this.#pc.index(to.index).namespace(to.namespace);
    const pageSize = this.#options.pageSize ?? 100;
    const batch = Math.max(1, Math.min(pageSize, Math.floor(UPSERT_BYTES / (this.#options.dimension * 24 + 2048))));
    const what = `'${from.index}/${from.namespace}' to '${to.index}/${to.namespace}'`;
    let paginationToken: string | undefined;
    do {
      const page = await this.#call(`listing vectors to copy ${what}`, () => source.listPaginated({ limit: pageSize, paginationToken }));
      const ids = (page.vectors ?? []).map((v) => v.id).filter((id): id is string => typeof id === 'string');
      if (ids.length > 0) {
        const fetched = await this.#call(`fetching vectors to copy ${what}`, () => source.fetch({ ids }));
        const records: PineconeRecord[] = Object.values(fetched.records);
        for (let i = 0; i < records.length; i += batch) {
          const slice = records.slice(i, i + batch);
          await this.#call(`upserting vectors copied ${what}`, () => target.upsert({ records: slice }));
        }
      }
      paginationToken = page.pagination?.next;
    } while (paginationToken);
  }

  /** Both namespaces report the same vector count, checked with backoff (index stats are eventually consistent). */
  async #verify(from: VectorPlacement, to: VectorPlacement): Promise<void> {
    const attempts = this.#options.verifyAttempts ?? 6;
    const baseDelay = this.#options.verifyBaseDelayMs ?? 1000;
    let counts = { source: 0, target: 0 };
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      if (attempt > 0) await this.#sleep(baseDelay * 2 ** (attempt - 1));
      counts = { source: await this.#count(from), target: await this.#count(to) };
      if (counts.source === counts.target) return;
    }
    throw new ProvisioningTransientError(
      `Vector counts still differ after copying '${from.index}/${from.namespace}' (${counts.source}) to '${to.index}/${to.namespace}' (${counts.target}), ${attempts} checks.`,
    );
  }

  async #count(placement: VectorPlacement): Promise<number> {
    const stats = await this.#call(`reading the stats of index '${placement.index}'`, () => this.#pc.index(placement.index).describeIndexStats());
    return stats.namespaces?.[placement.namespace]?.recordCount ?? 0;
  }

  async #call<T, U = never>(doing: string, fn: () => Promise<T>, options?: { notFound: U }): Promise<T | U> {
    try {
      return await fn();
    } catch (error) {
      if (options && isNotFound(error)) return options.notFound;
      throw mapPineconeError(error, doing);
    }
  }
}

/** Sort key prefix of the provisioning ledger's items in the tenant's partition. */
export const PINECONE_SK_PREFIX = 'PINECONE#';

/** The provisioning ledger in the lifecycle table: pk=TENANT#<id>, sk=PINECONE#<operationId>, replaced on put. */
export class DynamoProvisioningLedger implements ProvisioningLedger {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  #key(tenantId: string, operationId: string) {
    return { pk: tenantPk(tenantId), sk: `${PINECONE_SK_PREFIX}${operationId}` };
  }

  async put(tenantId: string, operationId: string, record: ProvisioningRecord): Promise<void> {
    await this.#client.send(new PutCommand({ TableName: this.#tableName, Item: { ...this.#key(tenantId, operationId), type: 'pinecone-provisioning', record } }));
  }

  async get(tenantId: string, operationId: string): Promise<ProvisioningRecord | undefined> {
    const { Item } = await this.#client.send(new GetCommand({ TableName: this.#tableName, Key: this.#key(tenantId, operationId), ConsistentRead: true }));
    return Item?.record as ProvisioningRecord | undefined;
  }

  async delete(tenantId: string, operationId: string): Promise<void> {
    await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: this.#key(tenantId, operationId) }));
  }
}

/**
 * Whether `error` (or its cause) is Pinecone refusing the API key: HTTP 401, which the SDK raises as
 * PineconeAuthorizationError (its errors/http.js; a 403 is a PineconeBadRequestError, not a key to re-read).
 */
export function isPineconeAuthenticationFailure(error: unknown): boolean {
  return causedBy(error, (cause) => cause.name === 'PineconeAuthorizationError');
}

/**
 * Pinecone with its API key in Secrets Manager (AWS): the key is read on first use and kept for
 * `config.secretMaxAgeSeconds`; a call Pinecone refuses for its key re-reads it once and is made again with the new
 * key (functions/shared/secret-value.ts). A failed read is a ProvisioningTransientError, which the workflow retries.
 */
export class SecretKeyPineconeProvisioner extends DeferredProvisioner {
  /** `create` builds the Pinecone provisioner from the API key (and may load the Pinecone SDK first). */
  constructor(options: { secretArn: string; secretsManager: SecretsManagerSource; create: (apiKey: string) => ResourceProvisioner | Promise<ResourceProvisioner> }) {
    super(
      'pinecone',
      fromSecret({
        secretArn: options.secretArn,
        secretsManager: options.secretsManager,
        holds: 'Pinecone API key',
        build: options.create,
        unavailable: (message, cause) => new ProvisioningTransientError(message, { cause }),
        isAuthFailure: isPineconeAuthenticationFailure,
      }),
    );
  }
}
