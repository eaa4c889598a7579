/**
 * The deletion sweeper in the local stack (never deployed): the same pass as the hourly Lambda on AWS
 * (functions/deletion/sweep-deletions.ts), run every `intervalMs` of real time. Each pass reads the time from
 * the ports' `now` (the clock the stores and the local scheduler use), so a moved clock is swept at once; on
 * AWS the rule's hour is the period.
 */
import { sweepDeletions, type DeletionSweepDependencies, type DeletionSweepResult } from '../../functions/deletion/sweep-deletions';

/** How often the local stack sweeps (real time): a minute, so a clock moved past a deadline is caught quickly. */
export const LOCAL_DELETION_SWEEP_MS = 60_000;

export interface LocalDeletionSweeper {
  /** Stop the timer and wait for a pass in progress: nothing of the sweeper runs afterwards. */
  stop(): Promise<void>;
}

/**
 * Sweep now, then every `intervalMs` after each pass ends (passes never overlap). `onPass` hears each pass's
 * result, `onError` a pass that failed as a whole (the table unreachable, say); the timer goes on.
 */
export function startLocalDeletionSweeper(
  deps: () => DeletionSweepDependencies,
  options: { readonly intervalMs?: number; readonly onPass?: (result: DeletionSweepResult) => void; readonly onError: (error: unknown) => void },
): LocalDeletionSweeper {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const pass = (): void => {
    timer = undefined;
    running = sweepDeletions(deps())
      .then(options.onPass ?? (() => undefined), options.onError)
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(pass, options.intervalMs ?? LOCAL_DELETION_SWEEP_MS).unref();
      });
  };
  pass();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
