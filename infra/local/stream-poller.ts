/**
 * The embedded stack's stand-in for a Lambda event source mapping on the lifecycle table's stream: it reads
 * DynamoDB Local's stream (DynamoDB Streams API, same endpoint, loopback) shard by shard, a parent shard before
 * its children, hands each batch of records to `handle` (the same contract as the Lambda: a partial batch
 * response), and keeps a checkpoint per shard in a file of the data folder, written only after a batch was
 * handled. So: after the change committed (the stream has only committed writes), at least once (a stop or crash
 * between handling and checkpointing hands the batch over again at the next start), in order per partition key
 * (one shard at a time, records in stream order; a failed record and all after it are handed over again).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DescribeTableCommand, type DescribeTableCommandOutput } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, ExpiredIteratorException, GetRecordsCommand, GetShardIteratorCommand, TrimmedDataAccessException, type DynamoDBStreamsClient, type Shard } from '@aws-sdk/client-dynamodb-streams';
import type { BatchResponse, StreamRecord } from '../../functions/events/lifecycle-events';

export interface StreamPollerOptions {
  /** A DynamoDB client (or document client): the poller asks it for the table's current stream. */
  readonly dynamo: { send(command: DescribeTableCommand): Promise<DescribeTableCommandOutput> };
  readonly streams: DynamoDBStreamsClient;
  readonly tableName: string;
  /** Where the per-shard checkpoints are kept (JSON); a stream of another ARN (a new table) starts over. */
  readonly checkpointFile: string;
  /** What a Lambda of the mapping would do with a batch: answers the records to hand over again. */
  readonly handle: (records: readonly StreamRecord[]) => Promise<BatchResponse>;
  /** Where a failed pass is reported (the next pass tries again). */
  readonly onError?: (error: unknown) => void;
  /** Records per GetRecords call (1-1000). @default 100 */
  readonly batchSize?: number;
  /**
   * Passes a record may fail before it is given up (reported to `onDeadLetter` and passed over), as the Lambda
   * mapping's retry attempts before its on-failure destination. @default 10
   */
  readonly retryAttempts?: number;
  /** Where a record given up is reported. */
  readonly onDeadLetter?: (record: StreamRecord) => void;
}

interface Checkpoints {
  streamArn?: string;
  /** Per shard: the last sequence number handled, and whether the shard is closed and read to its end. */
  shards: Record<string, { after?: string; done?: boolean }>;
}

export class StreamPoller {
  readonly #options: StreamPollerOptions;
  #checkpoints: Checkpoints;
  /** Open shards' iterators, kept between passes (an iterator lives 15 minutes; an expired one is made again). */
  readonly #iterators = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #stopped = false;
  /** The record that failed last, and how many passes in a row it failed. */
  #failing: { sequenceNumber: string; attempts: number } | undefined;

  constructor(options: StreamPollerOptions) {
    this.#options = options;
    this.#checkpoints = readCheckpoints(options.checkpointFile);
  }

  /** Poll every `intervalMs` (each pass after the last ended) until stop(). */
  start(intervalMs: number): void {
    const tick = () => {
      this.#timer = undefined;
      this.#pass = this.pollOnce()
        .then(() => undefined)
        // A pass cut short by stop() (DynamoDB Local going away) is no error: the next start goes on from the checkpoint.
        .catch((error: unknown) => {
          if (!this.#stopped) this.#options.onError?.(error);
        })
        .finally(() => {
          this.#pass = undefined;
          if (!this.#stopped) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Whether a pass is under way or one is scheduled (false once stop() has resolved). */
  get active(): boolean {
    return this.#timer !== undefined || this.#pass !== undefined;
  }

  /** No further pass; resolves once the pass under way (if any) has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#pass;
  }

  /**
   * One pass: every shard read from its checkpoint to its current end, parents first. Answers how many records
   * were handed over.
   */
  async pollOnce(): Promise<number> {
    const streamArn = await this.#streamArn();
    if (!streamArn) return 0;
    if (this.#checkpoints.streamArn !== streamArn) {
      this.#checkpoints = { streamArn, shards: {} };
      this.#iterators.clear();
    }
    const shards = await this.#shards(streamArn);
    const known = new Set(shards.map((shard) => shard.ShardId));
    let handed = 0;
    for (const shard of shards) {
      const shardId = shard.ShardId as string;
      if (this.#checkpoints.shards[shardId]?.done) continue;
      // A child waits for its parent to be read to its end (order per partition key); a trimmed parent is gone.
      if (shard.ParentShardId && known.has(shard.ParentShardId) && !this.#checkpoints.shards[shard.ParentShardId]?.done) continue;
      handed += await this.#readShard(streamArn, shardId);
      if (this.#stopped) break;
    }
    return handed;
  }

  async #streamArn(): Promise<string | undefined> {
    const { Table } = await this.#options.dynamo.send(new DescribeTableCommand({ TableName: this.#options.tableName }));
    return Table?.StreamSpecification?.StreamEnabled ? Table.LatestStreamArn : undefined;
  }

  async #shards(streamArn: string): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const { StreamDescription } = await this.#options.streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }));
      shards.push(...(StreamDescription?.Shards ?? []));
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return shards;
  }

  async #iterator(streamArn: string, shardId: string): Promise<string | undefined> {
    const after = this.#checkpoints.shards[shardId]?.after;
    const { ShardIterator } = await this.#options.streams.send(
      new GetShardIteratorCommand(after ? { StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after } : { StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    return ShardIterator;
  }

  /** Read one shard from its checkpoint to its current end (or to a batch that failed); answers the records handed over. */
  async #readShard(streamArn: string, shardId: string): Promise<number> {
    let handed = 0;
    let iterator = this.#iterators.get(shardId) ?? (await this.#iterator(streamArn, shardId));
    while (iterator && !this.#stopped) {
      let page;
      try {
        page = await this.#options.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: this.#options.batchSize ?? 100 }));
      } catch (error) {
        this.#iterators.delete(shardId);
        // An expired iterator is made again from the checkpoint; records trimmed (older than 24 h) are gone.
        if (error instanceof ExpiredIteratorException) return handed;
        if (error instanceof TrimmedDataAccessException) {
          this.#checkpoint(shardId, { after: undefined });
          return handed;
        }
        throw error;
      }
      const records = page.Records ?? [];
      if (records.length > 0) {
        const { batchItemFailures } = await this.#options.handle(records as StreamRecord[]);
        let failedAt = batchItemFailures.length > 0 ? records.findIndex((record) => batchItemFailures.some((failure) => failure.itemIdentifier === record.dynamodb?.SequenceNumber)) : -1;
        if (failedAt >= 0 && this.#givesUp(records[failedAt] as StreamRecord)) failedAt += 1;
        const handled = failedAt < 0 ? records : records.slice(0, failedAt);
        handed += handled.length;
        const last = handled.at(-1)?.dynamodb?.SequenceNumber;
        if (last) this.#checkpoint(shardId, { after: last });
        if (failedAt >= 0 && failedAt < records.length) {
          // The failed record and all after it come again, from the checkpoint, at the next pass.
          this.#iterators.delete(shardId);
          return handed;
        }
      }
      if (!page.NextShardIterator) {
        // Closed and read to its end: its children may be read now.
        this.#iterators.delete(shardId);
        this.#checkpoint(shardId, { done: true });
        return handed;
      }
      iterator = page.NextShardIterator;
      this.#iterators.set(shardId, iterator);
      if (records.length === 0) return handed; // the open shard's current end
    }
    return handed;
  }

  /** Count one more failed pass of `record`; true when that was its last allowed one (it is then reported). */
  #givesUp(record: StreamRecord): boolean {
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? '';
    const attempts = this.#failing?.sequenceNumber === sequenceNumber ? this.#failing.attempts + 1 : 1;
    this.#failing = { sequenceNumber, attempts };
    if (attempts <= (this.#options.retryAttempts ?? 10)) return false;
    this.#failing = undefined;
    this.#options.onDeadLetter?.(record);
    return true;
  }

  #checkpoint(shardId: string, change: { after?: string; done?: boolean }): void {
    this.#checkpoints.shards[shardId] = { ...this.#checkpoints.shards[shardId], ...change };
    writeCheckpoints(this.#options.checkpointFile, this.#checkpoints);
  }
}

function readCheckpoints(file: string): Checkpoints {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Checkpoints;
  } catch {
    return { shards: {} };
  }
}

/** Written to a temporary file and renamed over the old one, so a crash leaves the old checkpoints or the new. */
function writeCheckpoints(file: string, checkpoints: Checkpoints): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(checkpoints));
  renameSync(`${file}.tmp`, file);
}
