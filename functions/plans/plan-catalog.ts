/**
 * The plan catalog: the four plans in order, their limits, and their Stripe price ids (from configuration).
 * Limits follow the course; -1 means unlimited.
 */

export const PLAN_IDS = ['free', 'starter', 'professional', 'enterprise'] as const;
export type PlanId = (typeof PLAN_IDS)[number];

export const UNLIMITED = -1;

export const USAGE_METRICS = ['queriesPerMonth', 'storageGb', 'documents', 'users'] as const;
export type UsageMetric = (typeof USAGE_METRICS)[number];

export type PlanLimits = Readonly<Record<UsageMetric, number>>;
export type Usage = Readonly<Record<UsageMetric, number>>;

export interface Plan {
  readonly id: PlanId;
  readonly rank: number;
  readonly limits: PlanLimits;
  /** Stripe price id, or null for the free plan or when billing is not configured. */
  readonly stripePriceId: string | null;
}

export const PLAN_LIMITS: Readonly<Record<PlanId, PlanLimits>> = {
  free: { queriesPerMonth: 100, storageGb: 0.1, documents: 50, users: 2 },
  starter: { queriesPerMonth: 10_000, storageGb: 5, documents: 5_000, users: 10 },
  professional: { queriesPerMonth: 100_000, storageGb: 50, documents: 50_000, users: 50 },
  enterprise: { queriesPerMonth: UNLIMITED, storageGb: UNLIMITED, documents: UNLIMITED, users: UNLIMITED },
};

export const EMPTY_USAGE: Usage = { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 0 };

export type StripePriceIds = Partial<Record<PlanId, string>>;

export function isPlanId(value: unknown): value is PlanId {
  return typeof value === 'string' && (PLAN_IDS as readonly string[]).includes(value);
}

/** The catalog with the configured Stripe price ids attached. */
export function planCatalog(priceIds: StripePriceIds = {}): Readonly<Record<PlanId, Plan>> {
  return Object.fromEntries(
    PLAN_IDS.map((id, rank) => [id, { id, rank, limits: PLAN_LIMITS[id], stripePriceId: priceIds[id] ?? null }]),
  ) as Record<PlanId, Plan>;
}

export function comparePlans(from: PlanId, to: PlanId): 'upgrade' | 'downgrade' | 'same' {
  const delta = PLAN_IDS.indexOf(to) - PLAN_IDS.indexOf(from);
  return delta > 0 ? 'upgrade' : delta < 0 ? 'downgrade' : 'same';
}

export interface UsageViolation {
  readonly metric: UsageMetric;
  readonly current: number;
  readonly limit: number;
  readonly message: string;
}

/** Every metric where `usage` exceeds the plan's limit, with a message an operator can act on. */
export function usageViolations(usage: Usage, plan: PlanId): UsageViolation[] {
  const limits = PLAN_LIMITS[plan];
  return USAGE_METRICS.flatMap((metric) => {
    const limit = limits[metric];
    const current = usage[metric];
    if (limit === UNLIMITED || current <= limit) return [];
    return [{ metric, current, limit, message: `${metric}: ${current} exceeds the ${plan} limit of ${limit}` }];
  });
}
