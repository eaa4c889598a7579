/**
 * The per-caller rate limits (issue 13), as numbers: what each kind of caller may send, and the environment
 * variables that carry them to the API functions. Imports nothing, so the configuration (config.ts), the CDK
 * construct that sets the variables (infra/constructs/lifecycle-api.ts) and the local stack share one statement,
 * and the data-source registry names the limiter's items without loading the limiter.
 */

/** Partition key prefix of the limiter's items: `RATE_LIMIT#<caller>`; the only action on them is UpdateItem. */
export const RATE_LIMIT_PK_PREFIX = 'RATE_LIMIT#';
/** The sort key of a bucket item (one item per partition). */
export const RATE_LIMIT_SK = 'BUCKET';

/** One bucket's limit: a steady rate and the burst a caller that was idle may send at once. */
export interface RateLimit {
  /** Requests per second, sustained (a positive number: 0.5 is one request every 2 s). */
  readonly perSecond: number;
  /** Requests allowed at once from a full bucket (a whole number, at least 1); the bucket refills at `perSecond`. */
  readonly burst: number;
}

/** The limit of each kind of caller: all tenant-scoped callers of one tenant share one bucket; each operator has one. */
export interface RateLimits {
  readonly tenant: RateLimit;
  readonly operator: RateLimit;
}

/**
 * The deployed defaults: well under the API Gateway stage throttle (50 requests per second, bursts of 100, per
 * route), so one tenant at its limit leaves the stage's capacity to the others. Operators run scripts and
 * dashboards: a higher limit, still a limit (a leaked operator token must not starve the tenants either).
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  tenant: { perSecond: 10, burst: 20 },
  operator: { perSecond: 25, burst: 50 },
};

/** The environment variable of each number (read by config.ts, set by the CDK construct and the local stack). */
export const RATE_LIMIT_VARIABLES = {
  tenant: { perSecond: 'RATE_LIMIT_TENANT_PER_SECOND', burst: 'RATE_LIMIT_TENANT_BURST' },
  operator: { perSecond: 'RATE_LIMIT_OPERATOR_PER_SECOND', burst: 'RATE_LIMIT_OPERATOR_BURST' },
} as const satisfies Record<keyof RateLimits, Record<keyof RateLimit, string>>;

/** `limits` as the environment variables above (every one set). */
export function rateLimitEnvironment(limits: RateLimits): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const role of ['tenant', 'operator'] as const) {
    environment[RATE_LIMIT_VARIABLES[role].perSecond] = String(limits[role].perSecond);
    environment[RATE_LIMIT_VARIABLES[role].burst] = String(limits[role].burst);
  }
  return environment;
}
