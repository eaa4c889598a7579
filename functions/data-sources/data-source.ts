/**
 * The data-source port: one implementation per place a tenant's data lives (the tenant record and audit
 * trail, the other items of the tenant's partition, documents, vectors, usage records, billing history).
 * Export, hard delete (erasure, GDPR Art. 17) and their verification iterate the registry
 * (`./registry.ts`) and never name a source; adding a source is one implementation and one registry entry.
 *
 * Records are plain JSON-serialisable objects. Pages are read by an opaque cursor, so a workflow carries only
 * cursors and counts between steps, never records (Step Functions' 256 KB payload limit).
 */

/** One record as exported: a JSON object (NDJSON line). */
export type DataRecord = Readonly<Record<string, unknown>>;

export interface DataPage {
  readonly records: readonly DataRecord[];
  /** Where the next page starts; null when this is the last page. */
  readonly nextCursor: string | null;
}

/** What a data subject reads in the export's README about one source. */
export interface DataSourceDescription {
  /** One or two sentences: what this source holds and where it lives. */
  readonly summary: string;
  /** Field name → meaning (with units: seconds, cents, bytes). */
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * Records a source keeps after a purge because a law obliges the controller to (GDPR Art. 17(3)(b)): purge
 * deletes none of them and says how many it kept; `remaining` counts only records that should have gone.
 */
export interface DataRetention {
  /** Why they are kept, for the README and the hard delete's proof (the law, and who keeps them). */
  readonly basis: string;
}

export interface DataSource {
  /** Stable, file-name-safe name (`tenant`, `audit`, `documents`, ...): the export's folder, the manifest key. */
  readonly name: string;
  readonly description: DataSourceDescription;
  /** Present on a source whose records are kept by law (billing history): purge keeps them and says so. */
  readonly retention?: DataRetention;
  /** How many records `exportPage` yields for this tenant now. */
  count(tenantId: string): Promise<number>;
  /**
   * Up to `limit` records from `cursor` (null: the first page), in a stable order; an empty last page is allowed.
   * Throws DataSourceCursorError for a cursor this source did not issue.
   */
  exportPage(tenantId: string, cursor: string | null, limit: number): Promise<DataPage>;
  /** Delete every record of this tenant in this source; idempotent (purging an empty source deletes nothing). Returns how many were deleted. */
  purge(tenantId: string): Promise<{ readonly deleted: number; readonly retained?: number }>;
  /**
   * How many records of this tenant remain (0 once purged): the proof a hard delete records. A source with
   * `retention` reports the records it keeps by law as `retained`, not as `remaining`.
   */
  verifyPurged(tenantId: string): Promise<{ readonly remaining: number; readonly retained?: number }>;
}

/** A cursor this source did not issue (tampered with, or from another source). */
export class DataSourceCursorError extends Error {
  constructor(source: string, message = 'is not a cursor this source issued') {
    super(`Data source '${source}': the cursor ${message}.`);
    this.name = 'DataSourceCursorError';
  }
}
