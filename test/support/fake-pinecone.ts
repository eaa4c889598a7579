/**
 * An in-memory stand-in for Pinecone's control plane and index data planes, served through the SDK's
 * `fetchApi` option so the REAL `@pinecone-database/pinecone` client runs against it and nothing leaves the
 * process. It records every request (host, method, path, query, JSON body), keeps indexes, namespaces and
 * vectors, and lets tests inject failures (`failNext`) or skew what `describe_index_stats` reports
 * (`statsSkew`, to simulate eventual consistency). Any URL outside the fake hosts is refused loudly.
 */
import { Pinecone } from '@pinecone-database/pinecone';

export const FAKE_CONTROLLER = 'https://controller.pinecone.fake';
const DATA_HOST_SUFFIX = '.svc.pinecone.fake';

export interface RecordedPineconeRequest {
  readonly host: string;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string[]>>;
  readonly body: unknown;
}

interface FakeVector {
  id: string;
  values: number[];
  metadata?: Record<string, unknown>;
}

interface FakeIndex {
  name: string;
  dimension: number;
  metric: string;
  spec: unknown;
  namespaces: Map<string, Map<string, FakeVector>>;
}

interface Failure {
  readonly match: (request: RecordedPineconeRequest) => boolean;
  readonly status: number;
  remaining: number;
}

function json(status: number, body: unknown): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

export class FakePinecone {
  readonly requests: RecordedPineconeRequest[] = [];
  readonly indexes = new Map<string, FakeIndex>();
  /** Added to the record count `describe_index_stats` reports for (index, namespace): fake eventual consistency. */
  readonly statsSkew = new Map<string, number>();
  /** Indexes that exist but are still being created: described with `status.ready: false`, state Initializing. */
  readonly initializing = new Set<string>();
  readonly #failures: Failure[] = [];
  /**
   * The one API key accepted (undefined: any), as Pinecone after a key is rotated: a request with another key is
   * answered 401, which the SDK raises as PineconeAuthorizationError.
   */
  acceptedApiKey: string | undefined;
  /** The `Api-Key` header of each recorded request. */
  readonly apiKeysUsed: Array<string | null> = [];

  /**
   * A real SDK client wired to this fake; a fresh api key per client (unless `apiKey` is given) keeps the SDK's
   * global host cache apart.
   */
  client(options: { maxRetries?: number; apiKey?: string } = {}): Pinecone {
    return new Pinecone({
      apiKey: options.apiKey ?? `fake-${Math.random().toString(36).slice(2)}`,
      controllerHostUrl: FAKE_CONTROLLER,
      fetchApi: (input: unknown, init?: RequestInit) => this.handle(input, init),
      maxRetries: options.maxRetries ?? 0,
    });
  }

  createIndex(name: string, dimension: number): void {
    this.indexes.set(name, { name, dimension, metric: 'cosine', spec: { serverless: { cloud: 'aws', region: 'us-east-1' } }, namespaces: new Map() });
  }

  seed(index: string, namespace: string, count: number, dimension: number): void {
    const ns = this.#namespace(index, namespace);
    for (let i = 0; i < count; i += 1) {
      const id = `doc-${String(i).padStart(4, '0')}`;
      ns.set(id, { id, values: Array.from({ length: dimension }, (_, d) => (i + d) / 1000), metadata: { n: i } });
    }
  }

  vectors(index: string, namespace: string): Map<string, FakeVector> | undefined {
    return this.indexes.get(index)?.namespaces.get(namespace);
  }

  /** Answer the next `times` requests matching with `status` (and an error body). */
  failNext(match: (request: RecordedPineconeRequest) => boolean, status: number, times = 1): void {
    this.#failures.push({ match, status, remaining: times });
  }

  /** Requests as `METHOD host path` lines, for exact assertions. */
  log(): string[] {
    return this.requests.map((r) => `${r.method} ${r.host} ${r.path}`);
  }

  #namespace(index: string, namespace: string): Map<string, FakeVector> {
    const idx = this.indexes.get(index);
    if (!idx) throw new Error(`fake: no index ${index}`);
    let ns = idx.namespaces.get(namespace);
    if (!ns) {
      ns = new Map();
      idx.namespaces.set(namespace, ns);
    }
    return ns;
  }

  async handle(input: unknown, init?: RequestInit): Promise<Response> {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : (input as Request).url);
    const method = (init?.method ?? 'GET').toUpperCase();
    const query: Record<string, string[]> = {};
    for (const [key, value] of url.searchParams) (query[key] ??= []).push(value);
    const body = typeof init?.body === 'string' && init.body ? (JSON.parse(init.body) as unknown) : undefined;
    const request: RecordedPineconeRequest = { host: url.host, method, path: url.pathname, query, body };
    const origin = `${url.protocol}//${url.host}`;
    if (origin !== FAKE_CONTROLLER && !(url.protocol === 'https:' && url.host.endsWith(DATA_HOST_SUFFIX))) {
      throw new TypeError(`fake-pinecone: refusing to send a request off the machine: ${method} ${url.href}`);
    }
    this.requests.push(request);
    const apiKey = new Headers(init?.headers as ConstructorParameters<typeof Headers>[0]).get('api-key');
    this.apiKeysUsed.push(apiKey);
    if (this.acceptedApiKey !== undefined && apiKey !== this.acceptedApiKey) {
      return json(401, { error: { code: 'UNAUTHENTICATED', message: 'Invalid API Key' }, status: 401 });
    }
    const failure = this.#failures.find((f) => f.remaining > 0 && f.match(request));
    if (failure) {
      failure.remaining -= 1;
      return json(failure.status, { error: { code: 'INJECTED', message: `injected ${failure.status}` }, status: failure.status });
    }
    return origin === FAKE_CONTROLLER ? this.#control(request) : this.#data(url.host.slice(0, -DATA_HOST_SUFFIX.length), request);
  }

  #model(idx: FakeIndex): Record<string, unknown> {
    return {
      name: idx.name,
      dimension: idx.dimension,
      metric: idx.metric,
      host: `${idx.name}${DATA_HOST_SUFFIX}`,
      spec: idx.spec,
      status: this.initializing.has(idx.name) ? { ready: false, state: 'Initializing' } : { ready: true, state: 'Ready' },
      vector_type: 'dense',
      deletion_protection: 'disabled',
    };
  }

  #control(request: RecordedPineconeRequest): Response {
    const notFound = () => json(404, { error: { code: 'NOT_FOUND', message: 'Resource not found' }, status: 404 });
    if (request.method === 'POST' && request.path === '/indexes') {
      const b = request.body as { name: string; dimension: number; metric: string; spec: unknown };
      if (this.indexes.has(b.name)) return json(409, { error: { code: 'ALREADY_EXISTS', message: 'Resource already exists' }, status: 409 });
      this.indexes.set(b.name, { name: b.name, dimension: b.dimension, metric: b.metric, spec: b.spec, namespaces: new Map() });
      return json(201, this.#model(this.indexes.get(b.name)!));
    }
    const match = /^\/indexes\/([^/]+)$/.exec(request.path);
    if (match) {
      const idx = this.indexes.get(decodeURIComponent(match[1] ?? ''));
      if (!idx) return notFound();
      if (request.method === 'GET') return json(200, this.#model(idx));
      if (request.method === 'DELETE') {
        this.indexes.delete(idx.name);
        return new Response(null, { status: 202 });
      }
    }
    return json(400, { error: { code: 'INVALID_ARGUMENT', message: `fake: unsupported ${request.method} ${request.path}` }, status: 400 });
  }

  #data(indexName: string, request: RecordedPineconeRequest): Response {
    const idx = this.indexes.get(indexName);
    if (!idx) return json(404, { code: 5, message: `index ${indexName} not found` });
    const ns = (name: string | undefined) => this.#namespace(indexName, name ?? '');
    switch (`${request.method} ${request.path}`) {
      case 'GET /vectors/list': {
        const namespace = request.query.namespace?.[0] ?? '';
        const limit = Number(request.query.limit?.[0] ?? 100);
        const prefix = request.query.prefix?.[0] ?? '';
        const ids = [...(idx.namespaces.get(namespace)?.keys() ?? [])].filter((id) => id.startsWith(prefix)).sort();
        const after = request.query.paginationToken?.[0];
        const start = after === undefined ? 0 : ids.findIndex((id) => id > after);
        const page = start < 0 ? [] : ids.slice(start, start + limit);
        const more = start >= 0 && start + limit < ids.length;
        return json(200, { vectors: page.map((id) => ({ id })), pagination: more ? { next: page[page.length - 1] } : undefined, namespace, usage: { readUnits: 1 } });
      }
      case 'GET /vectors/fetch': {
        const vectors = idx.namespaces.get(request.query.namespace?.[0] ?? '') ?? new Map<string, FakeVector>();
        const found = Object.fromEntries((request.query.ids ?? []).filter((id) => vectors.has(id)).map((id) => [id, vectors.get(id)]));
        return json(200, { vectors: found, namespace: request.query.namespace?.[0] ?? '', usage: { readUnits: 1 } });
      }
      case 'POST /vectors/upsert': {
        const b = request.body as { vectors: FakeVector[]; namespace?: string };
        const target = ns(b.namespace);
        for (const v of b.vectors) {
          if (v.values.length !== idx.dimension) return json(400, { code: 3, message: `Vector dimension ${v.values.length} does not match the dimension of the index ${idx.dimension}` });
          target.set(v.id, v);
        }
        return json(200, { upsertedCount: b.vectors.length });
      }
      case 'POST /vectors/delete': {
        const b = request.body as { deleteAll?: boolean; ids?: string[]; namespace?: string };
        if (!idx.namespaces.has(b.namespace ?? '')) return json(404, { code: 5, message: 'Namespace not found' });
        // Pinecone's delete takes at most 1,000 ids (its API reference: `ids` maxItems 1000).
        if (b.ids && b.ids.length > 1000) return json(400, { code: 3, message: `fake: ${b.ids.length} ids in one delete (at most 1000)` });
        if (b.deleteAll) idx.namespaces.delete(b.namespace ?? '');
        for (const id of b.ids ?? []) idx.namespaces.get(b.namespace ?? '')?.delete(id);
        return json(200, {});
      }
      case 'POST /describe_index_stats': {
        const namespaces = Object.fromEntries(
          [...idx.namespaces].map(([name, vectors]) => [name, { vectorCount: vectors.size + (this.statsSkew.get(`${indexName}/${name}`) ?? 0) }]),
        );
        const total = [...idx.namespaces.values()].reduce((sum, v) => sum + v.size, 0);
        return json(200, { namespaces, dimension: idx.dimension, indexFullness: 0, totalVectorCount: total });
      }
      default:
        return json(400, { code: 3, message: `fake: unsupported ${request.method} ${request.path}` });
    }
  }
}
