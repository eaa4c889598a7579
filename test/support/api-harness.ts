/**
 * Integration harness: this test file's own table on the shared DynamoDB Local, the local API adapter on a
 * free loopback port, and tokens for an operator and for tenants, JWTs from an in-memory local issuer whose JWKS
 * the adapter verifies them against (as npm start's issuer and adapter do).
 */
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalApi, type LocalApi } from '../../infra/local/http-adapter';
import { LocalIssuer, type LocalIssuerOptions } from '../../infra/local/local-issuer';
import { config } from '../../functions/shared/config';
import { RATE_LIMIT_PK_PREFIX } from '../../functions/shared/http/rate-limit-policy';
import { createTableInput } from '../../functions/tenants/tenant-table';
import { TenantStore } from '../../functions/tenants/tenant-store';

export interface ApiResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface RequestOptions {
  readonly token?: string | null;
  readonly body?: unknown;
  /** Sent as is, without JSON encoding (bytes for bodies that are not valid UTF-8). */
  readonly rawBody?: string | Uint8Array;
  readonly headers?: Record<string, string>;
}

export class ApiHarness {
  /** The issuer of this harness's tokens; its JWKS is what the local API trusts. */
  readonly issuer: LocalIssuer;
  readonly operatorToken: string;
  readonly documentClient: DynamoDBDocumentClient;
  readonly store: TenantStore;
  #api: LocalApi | undefined;

  constructor(options: { issuer?: LocalIssuerOptions } = {}) {
    this.issuer = LocalIssuer.inMemory(options.issuer);
    this.operatorToken = this.issuer.mint({ subject: 'operator@test', role: 'operator' });
    this.documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, region: config.region }), {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.store = new TenantStore({ client: this.documentClient, tableName: config.tableName });
  }

  /** A token of a user of the tenant (subject `user@<tenantId>`), valid 1 h. */
  tenantToken(tenantId: string): string {
    return this.issuer.mint({ subject: `user@${tenantId}`, role: 'tenant', tenantId });
  }

  async start(): Promise<this> {
    await this.documentClient.send(new CreateTableCommand(createTableInput(config.tableName)));
    this.#api = await startLocalApi({ tokens: this.issuer });
    return this;
  }

  async stop(): Promise<void> {
    await this.#api?.close();
    await this.documentClient.send(new DeleteTableCommand({ TableName: config.tableName })).catch(() => undefined);
    this.documentClient.destroy();
  }

  get url(): string {
    if (!this.#api) throw new Error('ApiHarness not started');
    return this.#api.url;
  }

  async request<T = Record<string, unknown>>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.operatorToken : options.token;
    if (token !== null) headers.authorization ??= `Bearer ${token}`;
    let body: string | Uint8Array | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${this.url}${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  async createTenant(tenantId: string, overrides: Record<string, unknown> = {}) {
    const response = await this.request('POST', '/tenants', {
      body: { tenantId, name: `Tenant ${tenantId}`, email: `admin@${tenantId}.example`, plan: 'starter', ...overrides },
    });
    if (response.status !== 201) throw new Error(`create ${tenantId}: ${response.status} ${response.text}`);
    return response.body;
  }

  /**
   * Every item in the table, sorted: to prove a refused request changed nothing. Without the callers' rate-limit
   * buckets unless `withRateLimitBuckets`: every authenticated request takes a token from its caller's bucket,
   * refused or not (traffic accounting, functions/shared/http/rate-limit.ts), which is no change the request made.
   */
  async tableSnapshot(options: { readonly withRateLimitBuckets?: boolean } = {}): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documentClient.send(new ScanCommand({ TableName: config.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    const kept = options.withRateLimitBuckets ? items : items.filter((item) => !String(item.pk).startsWith(RATE_LIMIT_PK_PREFIX));
    return kept.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
  }
}
