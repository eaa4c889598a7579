/** SKELETON (issue 9): replaced before the issue lands. */
import type { ScheduledEvent } from '../../scheduler/scheduler-port';

export const handler = async (_event: ScheduledEvent): Promise<void> => {
  throw new Error('Not implemented yet.');
};
