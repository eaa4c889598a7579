/**
 * Starting a tenant's hard delete: what the deadline target, the enforcement check, the deletion sweeper and a
 * legal hold's release all do. The execution is named after the tenant, the trigger, the time the firing was
 * due and the soft delete it belongs to, so a schedule delivered twice starts one execution, while each new
 * firing (a re-armed schedule, the sweeper's next pass) starts a new one. Whether the hard delete may run (the
 * window, a legal hold, the tenant's state) is decided by the state machine's first step, not here.
 */
import { createHash } from 'node:crypto';
import { wholeSeconds } from '../scheduler/scheduler-port';
import { startExecution } from '../workflows/start-execution';
import type { WorkflowRunner } from '../workflows/workflow-runner';
import { HARD_DELETE_WORKFLOW, type HardDeleteInput, type HardDeleteTrigger } from './hard-delete-definition';

/**
 * Step Functions' rule for execution names: 1–80 characters; we keep to letters, digits, `-` and `_`, which
 * CloudWatch Logs and EventBridge also accept (StartExecution API reference, `name`).
 */
export const EXECUTION_NAME_MAX = 80;

/** The trigger's code in the execution name (short, so a long tenant id still fits). */
const TRIGGER_CODES: Readonly<Record<HardDeleteTrigger, string>> = { deadline: 'dl', 'enforcement-check': 'ec', sweeper: 'sw', 'hold-released': 'hr' };

export interface StartHardDeleteRequest {
  readonly tenantId: string;
  readonly trigger: HardDeleteTrigger;
  /** When the firing was due (the schedule's time; the sweeper's pass); whole seconds count. */
  readonly scheduledAt: Date;
  /** The soft delete's `requestedAt` (ISO 8601), as its schedules' payload carries it. */
  readonly deletionRequestedAt: string;
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * The hard delete's execution name (its operationId): `hd-<trigger>-<yyyymmddThhmmssZ>-<6 hex of the soft
 * delete>-<tenant id>`, at most EXECUTION_NAME_MAX characters; a tenant id too long for the rest is cut and
 * followed by 12 hex characters of its sha256, so two ids never share a name. Deterministic: the same firing
 * gets the same name.
 */
export function hardDeleteOperationId(request: StartHardDeleteRequest): string {
  const at = wholeSeconds(request.scheduledAt).toISOString().replace(/[-:]/g, '').replace('.000', '');
  const prefix = `hd-${TRIGGER_CODES[request.trigger]}-${at}-${sha256Hex(request.deletionRequestedAt).slice(0, 6)}-`;
  const room = EXECUTION_NAME_MAX - prefix.length;
  const tenant = request.tenantId.length <= room ? request.tenantId : `${request.tenantId.slice(0, room - 13)}-${sha256Hex(request.tenantId).slice(0, 12)}`;
  return `${prefix}${tenant}`;
}

/** The execution input's `operation` for `request` (HardDeleteInput). */
export function hardDeleteInput(request: StartHardDeleteRequest): HardDeleteInput {
  return {
    operationId: hardDeleteOperationId(request),
    tenantId: request.tenantId,
    trigger: request.trigger,
    scheduledAt: wholeSeconds(request.scheduledAt).toISOString(),
    deletionRequestedAt: request.deletionRequestedAt,
  };
}

/**
 * Start the hard-delete state machine for `request` (three tries, functions/workflows/start-execution.ts); a
 * repeated start of the same firing is a no-op (same execution name). Answers the input it started with.
 * Throws the runner's last error (the caller's delivery is then retried).
 */
export async function startHardDelete(deps: { readonly runner: WorkflowRunner }, request: StartHardDeleteRequest): Promise<HardDeleteInput> {
  const input = hardDeleteInput(request);
  await startExecution(deps, HARD_DELETE_WORKFLOW.name, input);
  return input;
}
