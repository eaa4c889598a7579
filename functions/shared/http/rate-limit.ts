/**
 * Per-caller rate limit for the HTTPS API (issue 13): HTTP APIs have no usage plans, and the stage's throttle is
 * one limit shared by every caller, so one tenant's token could exhaust a route for all tenants. Each caller
 * (a token's subject) has a bucket item in the lifecycle table, in a partition of its own.
 *
 * Skeleton: the partition every API function may update (the IAM grants read it); the limiter comes next.
 */

/** Partition key prefix of the limiter's items: `RATE_LIMIT#<caller>`; the only action on them is UpdateItem. */
export const RATE_LIMIT_PK_PREFIX = 'RATE_LIMIT#';
