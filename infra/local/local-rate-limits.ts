/**
 * The per-caller rate limits of the local stack and of the test suites: the limiter runs there as on AWS (every
 * authenticated request takes a token from its caller's bucket in DynamoDB Local), with limits high enough that
 * `npm start` users, scripts and the integration suite are not throttled by accident. Set the RATE_LIMIT_*
 * variables (functions/shared/http/rate-limit-policy.ts) to try the deployed limits locally.
 */
import { rateLimitEnvironment, type RateLimits } from '../../functions/shared/http/rate-limit-policy';

export const LOCAL_RATE_LIMITS: RateLimits = {
  tenant: { perSecond: 500, burst: 2000 },
  operator: { perSecond: 1000, burst: 5000 },
};

/** Set each RATE_LIMIT_* variable `env` does not set already to LOCAL_RATE_LIMITS. */
export function applyLocalRateLimits(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(rateLimitEnvironment(LOCAL_RATE_LIMITS))) env[name] ??= value;
}
