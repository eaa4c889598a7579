/**
 * Operations: one record per workflow execution (plan change, later export, deletion, reactivation). The
 * workflow's durable memory: which steps have started and finished, what billing did, how it ended. A
 * compensation reads this record, not the (possibly lost) step outputs, to know what to undo.
 */
import * as clock from '../shared/clock';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getDocumentClient } from '../shared/aws-clients';
import { queryByStatePartition } from '../shared/by-state-index';
import { config } from '../shared/config';
import { registerHttpError } from '../shared/error-catalogue';
import type { WorkflowName } from '../workflows/registry';
import { logger } from '../shared/powertools';
import { recordWorkflowEnd, workflowDurationMs } from '../workflows/workflow-metrics';
import { BY_STATE_INDEX, ownedBy } from '../tenants/tenant-table';
import type { ConditionalUpdate } from '../tenants/tenant-store';

export const OPERATION_SK = 'OPERATION';
/**
 * `scheduled`: waiting for its time (a downgrade at the end of the billing period); `running`: its workflow
 * runs; `compensating`: a compensation (or a cancellation) has claimed it, late steps are refused from then
 * on; then one of the ends: `succeeded`, `rolled_back` (undone after it started), `cancelled` (undone before),
 * `failed` (a workflow with nothing to undo, an export, that could not finish: the tenant is back where it was).
 */
export const OPERATION_STATUSES = ['scheduled', 'running', 'compensating', 'succeeded', 'rolled_back', 'cancelled', 'failed'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

export interface OperationError {
  readonly code: string;
  readonly message: string;
}

export interface Operation {
  readonly operationId: string;
  readonly tenantId: string;
  readonly workflow: WorkflowName;
  readonly status: OperationStatus;
  /** The workflow input, as started. */
  readonly input: Readonly<Record<string, unknown>>;
  /** Step markers in the order they were recorded (`billing_started`, `billing_updated`, ...). */
  readonly steps: readonly string[];
  /** Step results a compensation needs (billing change references, drain start time, ...). */
  readonly facts: Readonly<Record<string, unknown>>;
  readonly error?: OperationError;
  /** For a scheduled operation: when it is due to start (ISO 8601). */
  readonly effectiveAt?: string;
  readonly requestedBy: string;
  readonly createdAt: string;
  /** When its workflow started running: at creation, or for a scheduled one when its time came. */
  readonly startedAt?: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
  /** Kept when its tenant is hard-deleted (a hard delete's own operations: the record of the erasure; functions/data-sources/operations-source.ts). */
  readonly erasureRecord?: boolean;
}

export class OperationNotFoundError extends Error {
  /** The stable code the API answers with. */
  readonly code = 'OPERATION_NOT_FOUND' as const;
  readonly operationId: string;
  constructor(operationId: string) {
    super(`Operation '${operationId}' does not exist.`);
    this.name = 'OperationNotFoundError';
    this.operationId = operationId;
  }
}

registerHttpError(OperationNotFoundError, { status: 404, details: (error) => ({ operationId: error.operationId }) });

/** A step of an operation that has already ended (timed out and compensated, say) tried to go on. */
export class OperationEndedError extends Error {
  readonly operationId: string;
  /** The status the operation was found in (`compensating` too: a compensation has claimed it). */
  readonly status: OperationStatus;
  constructor(operationId: string, status: OperationStatus) {
    super(`Operation '${operationId}' has already ended (${status}); this step does nothing.`);
    this.name = 'OperationEndedError';
    this.operationId = operationId;
    this.status = status;
  }
}

/**
 * The byState partition that holds operations being set up, running or compensating (sorted by when that
 * began): what the sweeper finds stuck.
 */
export const UNFINISHED_OPERATIONS = 'operation:unfinished';
/** The byState partition of operations waiting for their time (sorted by when they are due). */
export const SCHEDULED_OPERATIONS = 'operation:scheduled';

/** The statuses an ended operation may have. */
export type FinalStatus = 'succeeded' | 'rolled_back' | 'cancelled' | 'failed';

/** How a workflow ended, as logged (locally one line, on AWS a structured log entry): what operators search by. */
export interface OperationOutcome {
  readonly workflow: Operation['workflow'];
  readonly operationId: string;
  readonly tenantId: string;
  readonly status: OperationStatus;
  /** `<error code>: <message>` for a rolled-back or cancelled operation. */
  readonly cause?: string;
  /** For an ended operation: milliseconds from its start (its creation if it never started) to its end. */
  readonly durationMs?: number;
}

export function operationOutcome(operation: Operation): OperationOutcome {
  return {
    workflow: operation.workflow,
    operationId: operation.operationId,
    tenantId: operation.tenantId,
    status: operation.status,
    ...(operation.error ? { cause: `${operation.error.code}: ${operation.error.message}` } : {}),
    ...(operation.finishedAt ? { durationMs: workflowDurationMs({ startedAt: runStart(operation), finishedAt: operation.finishedAt }) } : {}),
  };
}

/** When the operation's run started; its creation for one that never started (or was written before `startedAt`). */
function runStart(operation: Pick<Operation, 'createdAt' | 'startedAt'>): string {
  return operation.startedAt ?? operation.createdAt;
}

export function operationPk(operationId: string): string {
  return `OPERATION#${operationId}`;
}

const FIELDS = ['operationId', 'tenantId', 'workflow', 'status', 'input', 'steps', 'facts', 'error', 'effectiveAt', 'requestedBy', 'createdAt', 'startedAt', 'updatedAt', 'finishedAt'] as const;

/** What the end of an operation is measured with: its workflow and when it started. */
type RunFacts = Pick<Operation, 'workflow' | 'createdAt' | 'startedAt'>;
/** How many operations' RunFacts a store remembers (a container runs one or a few at a time). */
const REMEMBERED_RUNS = 256;

export class OperationStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;
  /**
   * RunFacts of operations this store has just written or read, by id (most recent last): an operation's end
   * is committed inside another store's transaction, which returns nothing, and is measured with these
   * instead of another read. Every end path reads or writes the operation first (recordStep,
   * beginCompensation); on a miss the end reads it.
   */
  readonly #runs = new Map<string, RunFacts>();

  constructor(options: { client: DynamoDBDocumentClient; tableName: string; now?: () => Date }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? clock.now;
  }

  /**
   * The item for a new operation, written in the same transaction as the tenant's change: `running` with the
   * initiate event, or `scheduled` (still being set up, until `scheduledUpdate`) with the scheduled change.
   */
  newItem(
    operation: Pick<Operation, 'operationId' | 'tenantId' | 'workflow' | 'input' | 'requestedBy'> & Partial<Pick<Operation, 'effectiveAt' | 'erasureRecord' | 'steps' | 'facts'>>,
    status: 'running' | 'scheduled' = 'running',
  ): Record<string, unknown> {
    const at = this.#now().toISOString();
    // `steps` and `facts`: what the transaction that creates the operation also did (a window it opened).
    const { steps = [], facts = {}, ...fields } = operation;
    return {
      pk: operationPk(operation.operationId),
      sk: OPERATION_SK,
      type: 'operation',
      ...fields,
      ...ownedBy(operation.tenantId),
      status,
      steps,
      facts,
      createdAt: at,
      ...(status === 'running' ? { startedAt: at } : {}),
      updatedAt: at,
      // In the byState index under its own partition while unfinished, so the sweeper can find stuck ones.
      [BY_STATE_INDEX.partitionKey]: UNFINISHED_OPERATIONS,
      [BY_STATE_INDEX.sortKey]: at,
    };
  }

  /**
   * Record an operation that failed before it could start (its initiate event was refused), or that was
   * `cancelled` before it started (a hard delete fired before its window, or under a legal hold), so its id
   * still answers with the reason. A no-op when the operation exists already (false then).
   */
  async putFailed(
    operation: Pick<Operation, 'operationId' | 'tenantId' | 'workflow' | 'input' | 'requestedBy'> & Partial<Pick<Operation, 'erasureRecord'>>,
    error: OperationError,
    status: 'failed' | 'cancelled' = 'failed',
  ): Promise<boolean> {
    const at = this.#now().toISOString();
    const item: Record<string, unknown> = { ...this.newItem(operation), status, error, finishedAt: at };
    delete item[BY_STATE_INDEX.partitionKey];
    delete item[BY_STATE_INDEX.sortKey];
    try {
      await this.#client.send(new PutCommand({ TableName: this.#tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
      return true;
    } catch (caught) {
      if (caught instanceof ConditionalCheckFailedException) return false;
      throw caught;
    }
  }

  async find(operationId: string): Promise<Operation | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#tableName, Key: { pk: operationPk(operationId), sk: OPERATION_SK }, ConsistentRead: true }),
    );
    if (!Item) return undefined;
    const out: Record<string, unknown> = {};
    for (const field of FIELDS) if (Item[field] !== undefined) out[field] = Item[field];
    return this.#remember(out as unknown as Operation);
  }

  #remember<T extends RunFacts & { readonly operationId: string }>(operation: T): T {
    this.#runs.delete(operation.operationId);
    this.#runs.set(operation.operationId, { workflow: operation.workflow, createdAt: operation.createdAt, ...(operation.startedAt ? { startedAt: operation.startedAt } : {}) });
    if (this.#runs.size > REMEMBERED_RUNS) this.#runs.delete(this.#runs.keys().next().value as string);
    return operation;
  }

  /**
   * Count the end of `operationId` (WorkflowEnded, WorkflowDuration: workflow-metrics.ts), once it has
   * committed. Never throws: the end is written, a lost metric must not undo or repeat it.
   */
  async #ended(operationId: string, status: FinalStatus, finishedAt: string): Promise<void> {
    try {
      const run = this.#runs.get(operationId) ?? (await this.find(operationId));
      if (!run) return;
      recordWorkflowEnd({ workflow: run.workflow, outcome: status, startedAt: runStart(run), finishedAt });
    } catch (error) {
      logger.warn('Could not measure the end of an operation', { operationId, status, error });
    }
  }

  async get(operationId: string): Promise<Operation> {
    const operation = await this.find(operationId);
    if (!operation) throw new OperationNotFoundError(operationId);
    return operation;
  }

  /**
   * The update that records `steps` (in order; the last is the marker that must not be there yet) with the
   * `facts` a step learned, for recordFirst and recordStep. Conditioned on the operation still being `expected`.
   */
  #stepUpdate(
    operationId: string,
    steps: string | readonly string[],
    facts: Record<string, unknown> = {},
    expected: 'scheduled' | 'running' | 'compensating' = 'running',
  ): ConditionalUpdate {
    const list = typeof steps === 'string' ? [steps] : steps;
    const factSets = this.#factSets(facts);
    return {
      Key: { pk: operationPk(operationId), sk: OPERATION_SK },
      UpdateExpression: `SET #steps = list_append(#steps, :step), ${factSets.sets.join(', ')}`,
      ConditionExpression: 'attribute_exists(pk) AND #status = :running AND NOT contains(#steps, :stepValue)',
      ExpressionAttributeNames: { '#steps': 'steps', '#status': 'status', ...factSets.names },
      ExpressionAttributeValues: { ':step': list, ':stepValue': list[list.length - 1], ':running': expected, ...factSets.values },
    };
  }

  /** `updatedAt` and the facts, as SET clauses with their names and values. */
  #factSets(facts: Record<string, unknown>) {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':at': this.#now().toISOString() };
    const sets = ['updatedAt = :at'];
    if (Object.keys(facts).length > 0) names['#facts'] = 'facts';
    Object.entries(facts).forEach(([key, value], i) => {
      names[`#f${i}`] = key;
      values[`:f${i}`] = value;
      sets.push(`#facts.#f${i} = :f${i}`);
    });
    return { names, values, sets };
  }

  /**
   * Record `step` (one or several markers, the last being the one checked) if it is not recorded yet and the
   * operation is still `expected`, in one conditional write; ConditionalCheckFailedException otherwise (a
   * retried step, or the operation ended): the caller then reads the record to know which.
   */
  async recordFirst(operationId: string, step: string | readonly string[], expected: 'scheduled' | 'running' | 'compensating' = 'running'): Promise<void> {
    await this.#client.send(new UpdateCommand({ TableName: this.#tableName, ...this.#stepUpdate(operationId, step, {}, expected) }));
  }

  /**
   * Record that a step started or finished, with any facts it learned; a repeated marker is recorded once
   * (`step` may be several markers recorded at once, the last being the one checked).
   * Throws OperationEndedError once the operation has ended, so a late step stops before doing anything.
   */
  async recordStep(operationId: string, step: string | readonly string[], facts: Record<string, unknown> = {}, expected: 'scheduled' | 'running' | 'compensating' = 'running'): Promise<void> {
    try {
      await this.#client
        .send(
          // The same single write; what it returns is remembered to measure the operation's end without a read.
          new UpdateCommand({ TableName: this.#tableName, ...this.#stepUpdate(operationId, step, facts, expected), ReturnValues: 'ALL_NEW' }),
        )
        .then(({ Attributes }) => Attributes && this.#remember(Attributes as unknown as Operation));
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Already recorded (a retried step), or the operation ended: a late step must not go on working.
      const operation = await this.get(operationId);
      if (operation.status !== expected) throw new OperationEndedError(operationId, operation.status);
      if (Object.keys(facts).length === 0) return;
      await this.noteFacts(operationId, facts);
    }
  }

  /**
   * The update that ends an operation, for a transaction that also moves the tenant: the final state of both
   * is then written at once (a crash cannot leave the tenant committed and the operation running).
   * `from` is the status the operation must still have. `facts` are facts the workflow carried to this point,
   * recorded with the end instead of in a write of their own (the same information, one write less). Once the
   * transaction commits, the end is counted (`onCommitted`: WorkflowEnded and WorkflowDuration, workflow-metrics.ts).
   */
  finishUpdate(operationId: string, status: FinalStatus, from: 'scheduled' | 'running' | 'compensating', error?: OperationError, facts: Record<string, unknown> = {}): ConditionalUpdate {
    const { names, values, sets } = this.#factSets(facts);
    const at = values[':at'] as string;
    return {
      onCommitted: () => this.#ended(operationId, status, at),
      Key: { pk: operationPk(operationId), sk: OPERATION_SK },
      UpdateExpression: `SET #status = :status, finishedAt = :at, ${sets.join(', ')}${error ? ', #error = :error' : ''} REMOVE #indexState, #indexSince`,
      ConditionExpression: '#status = :from',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#indexState': BY_STATE_INDEX.partitionKey,
        '#indexSince': BY_STATE_INDEX.sortKey,
        ...names,
        ...(error ? { '#error': 'error' } : {}),
      },
      ExpressionAttributeValues: { ':status': status, ':from': from, ...values, ...(error ? { ':error': error } : {}) },
    };
  }

  /**
   * Record `facts` on the operation whatever its status (one that has ended too): what a late step found that an
   * operator must act on (a billing change it could not revert). Never changes the status or the steps.
   */
  async noteFacts(operationId: string, facts: Record<string, unknown>): Promise<void> {
    const { names, values, sets } = this.#factSets(facts);
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: operationPk(operationId), sk: OPERATION_SK },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** End an operation that is still `from`; false if it was not (finishing is idempotent). */
  async finish(operationId: string, status: FinalStatus, from: 'running' | 'compensating', error?: OperationError): Promise<boolean> {
    const { onCommitted, ...update } = this.finishUpdate(operationId, status, from, error);
    try {
      await this.#client.send(new UpdateCommand({ TableName: this.#tableName, ...update }));
      await onCommitted?.();
      return true;
    } catch (caught) {
      if (caught instanceof ConditionalCheckFailedException) return false;
      throw caught;
    }
  }

  /**
   * A scheduled operation is set up (billing arranged, its one-shot schedule made): it leaves the sweeper's
   * unfinished partition for the scheduled one, sorted by when it starts (`startsAt`).
   */
  async markScheduled(operationId: string, effectiveAt: string, startsAt: string): Promise<void> {
    await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: { pk: operationPk(operationId), sk: OPERATION_SK },
        UpdateExpression: 'SET #steps = list_append(#steps, :step), effectiveAt = :effectiveAt, updatedAt = :at, #indexState = :scheduled, #indexSince = :startsAt',
        ConditionExpression: '#status = :scheduledStatus',
        ExpressionAttributeNames: { '#steps': 'steps', '#status': 'status', '#indexState': BY_STATE_INDEX.partitionKey, '#indexSince': BY_STATE_INDEX.sortKey },
        ExpressionAttributeValues: {
          ':step': ['scheduled'],
          ':effectiveAt': effectiveAt,
          ':startsAt': startsAt,
          ':at': this.#now().toISOString(),
          ':scheduled': SCHEDULED_OPERATIONS,
          ':scheduledStatus': 'scheduled',
        },
      }),
    );
  }

  /**
   * The update that starts a scheduled operation, for the transaction of the tenant's initiate event: it
   * becomes `running` (the sweeper's clock starts now) if it is still `scheduled` and set up.
   */
  startUpdate(operationId: string): ConditionalUpdate {
    const at = this.#now().toISOString();
    return {
      Key: { pk: operationPk(operationId), sk: OPERATION_SK },
      UpdateExpression: 'SET #status = :running, #steps = list_append(#steps, :step), startedAt = :at, updatedAt = :at, #indexState = :unfinished, #indexSince = :at',
      ConditionExpression: '#status = :scheduled AND contains(#steps, :setUp)',
      ExpressionAttributeNames: { '#status': 'status', '#steps': 'steps', '#indexState': BY_STATE_INDEX.partitionKey, '#indexSince': BY_STATE_INDEX.sortKey },
      ExpressionAttributeValues: { ':running': 'running', ':scheduled': 'scheduled', ':setUp': 'scheduled', ':step': ['period_end_reached'], ':at': at, ':unfinished': UNFINISHED_OPERATIONS },
    };
  }

  /** Operations still unfinished that started before `before` (oldest first): candidates for the sweeper. */
  async unfinishedBefore(before: Date, limit = 500): Promise<Operation[]> {
    return this.#inPartition(UNFINISHED_OPERATIONS, before, limit);
  }

  /** Scheduled operations due to start before `before` (oldest first): the sweeper starts those whose schedule was lost. */
  async scheduledDueBefore(before: Date, limit = 500): Promise<Operation[]> {
    return this.#inPartition(SCHEDULED_OPERATIONS, before, limit);
  }

  async #inPartition(partition: string, before: Date, limit: number): Promise<Operation[]> {
    return queryByStatePartition<Operation>(this.#client, this.#tableName, partition, { below: before.toISOString(), limit });
  }

  /**
   * Claim the operation for compensation: from then on every late step is refused (recordStep throws), so
   * what the returned record lists as started is all there is to undo. Returns undefined when the operation
   * is not in one of the `from` statuses (it ended, or a cancellation found it started), or has recorded
   * `unlessStep`; a compensation that was claimed before (a retry) may claim again. The sweeper's clock
   * restarts with the claim.
   */
  async beginCompensation(
    operationId: string,
    from: ReadonlyArray<'scheduled' | 'running' | 'compensating'> = ['scheduled', 'running', 'compensating'],
    options: { readonly unlessStep?: string } = {},
  ): Promise<Operation | undefined> {
    const at = this.#now().toISOString();
    const allowed = Object.fromEntries(from.map((status, i) => [`:from${i}`, status]));
    const unless = options.unlessStep ? { ':unlessStep': options.unlessStep } : {};
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: { pk: operationPk(operationId), sk: OPERATION_SK },
          UpdateExpression: 'SET #status = :compensating, updatedAt = :at, #indexState = :unfinished, #indexSince = :at',
          ConditionExpression: `#status IN (${Object.keys(allowed).join(', ')})${options.unlessStep ? ' AND NOT contains(#steps, :unlessStep)' : ''}`,
          ExpressionAttributeNames: {
            '#status': 'status',
            '#indexState': BY_STATE_INDEX.partitionKey,
            '#indexSince': BY_STATE_INDEX.sortKey,
            ...(options.unlessStep ? { '#steps': 'steps' } : {}),
          },
          ExpressionAttributeValues: { ':compensating': 'compensating', ':unfinished': UNFINISHED_OPERATIONS, ':at': at, ...allowed, ...unless },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return this.#remember(Attributes as unknown as Operation);
    } catch (caught) {
      if (caught instanceof ConditionalCheckFailedException) return undefined;
      throw caught;
    }
  }
}

let store: OperationStore | undefined;

/** The container's operation store, on the shared document client and the configured table. */
export function operationStore(): OperationStore {
  store ??= new OperationStore({ client: getDocumentClient(), tableName: config.tableName });
  return store;
}
