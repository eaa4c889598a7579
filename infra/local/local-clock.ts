/**
 * The clock an operator can move, in the local stack only (`npm start -- --clock=simulated`): it starts at the
 * wall time, runs with the wall clock, and jumps forward by `POST /_local/clock {"advanceSeconds": n}`. Once
 * installed, every part that reads functions/shared/clock.ts (the stores, the ledger, the scheduler, the
 * sweepers, the export store's retention, the workflow steps, the API's times) sees the moved time.
 *
 * Installing it writes the global slot functions/shared/clock.ts reads. This file lives in infra/local/, which
 * no deployed function bundles (test/infra/bundling.test.ts), and refuses to run inside a Lambda function.
 */
import * as z from 'zod';
import * as clock from '../../functions/shared/clock';
import { ApiError } from '../../functions/shared/errors';
import { apiRoute, type RouteHandler } from '../../functions/shared/http/api-handler';
import { jsonResponse } from '../../functions/shared/http/response';

/** The largest single advance: ten years, far past any retention or billing period, well inside Date's range. */
export const MAX_ADVANCE_SECONDS = 10 * 366 * 24 * 3600;

/** The path of the clock's routes, served by the local HTTP adapter only (never in functions/api/routes.ts). */
export const LOCAL_CLOCK_PATH = '/_local/clock';

/** What `GET`/`POST /_local/clock` answer. */
export interface ClockReading {
  /** The stack's current time, ISO 8601 UTC. */
  readonly now: string;
  readonly simulated: boolean;
  /** How far the stack's time is ahead of the wall clock, in whole seconds. */
  readonly offsetSeconds: number;
}

/** A clock that runs with the wall clock, `offsetSeconds` ahead of it; it only moves forward. */
export class SimulatedClock implements clock.ClockSource {
  #offsetMs = 0;
  readonly #wall: () => number;

  /** `wall`: the wall clock in epoch milliseconds (tests give their own). */
  constructor(wall: () => number = Date.now) {
    this.#wall = wall;
  }

  now(): Date {
    return new Date(this.#wall() + this.#offsetMs);
  }

  get offsetSeconds(): number {
    return Math.round(this.#offsetMs / 1000);
  }

  /** Move forward by whole `seconds` (1..MAX_ADVANCE_SECONDS); throws RangeError otherwise. Answers the new time. */
  advance(seconds: number): Date {
    if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_ADVANCE_SECONDS) {
      throw new RangeError(`advanceSeconds must be a whole number of seconds from 1 to ${MAX_ADVANCE_SECONDS}, got ${seconds}.`);
    }
    this.#offsetMs += seconds * 1000;
    return this.now();
  }

  reading(): ClockReading {
    return { now: this.now().toISOString(), simulated: true, offsetSeconds: this.offsetSeconds };
  }
}

type Slot = { [clock.LOCAL_CLOCK_SLOT]?: clock.ClockSource };

/**
 * Make `source` the time every part of this process reads; answers how to put the wall clock back. Throws inside
 * a Lambda function (AWS_LAMBDA_FUNCTION_NAME is set there): a deployed function keeps the wall clock.
 */
export function installLocalClock(source: clock.ClockSource): () => void {
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) throw new Error('A simulated clock is for the local stack only; it cannot be installed in a Lambda function.');
  const slot = globalThis as Slot;
  slot[clock.LOCAL_CLOCK_SLOT] = source;
  return () => {
    if (slot[clock.LOCAL_CLOCK_SLOT] === source) delete slot[clock.LOCAL_CLOCK_SLOT];
  };
}

/** A route the local HTTP adapter serves besides the shared route table (functions/api/routes.ts). */
export interface LocalRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly handler: RouteHandler;
  /**
   * How long its handler may run, in seconds: the local Lambda context's remaining time, which the middy stack
   * enforces (a 500 past it). The API routes' 10 s (their functions' timeout) when omitted.
   */
  readonly timeoutSeconds?: number;
}

const advanceBodySchema = z
  .object({
    advanceSeconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_ADVANCE_SECONDS)
      .describe(`How far to move the clock forward, in whole seconds (1 to ${MAX_ADVANCE_SECONDS}); it never moves back.`),
  })
  .strict();

/** What an advance made happen at once: schedules fired at the new time, and what the sweepers did. */
export type AdvanceEffects = Readonly<Record<string, unknown>>;

export interface ClockRoutesOptions {
  /** The stack's simulated clock; undefined when it runs on the wall clock (then POST is 404). */
  readonly clock: SimulatedClock | undefined;
  /**
   * Makes each advance, before the answer: calls `move` (which moves the clock) and answers what that set off. The
   * stack moves the clock and fires the schedules now due with its scheduler's timer held, so a tick cannot
   * claim one the advance made due and leave it out of the answer, then runs the sweepers at the new time. When
   * omitted, the clock is moved and nothing else happens.
   */
  readonly onAdvance?: (move: () => void) => Promise<AdvanceEffects>;
  /** How long POST may run, in seconds (LocalRoute.timeoutSeconds): as long as onAdvance may wait; else the routes' 10 s. */
  readonly advanceTimeoutSeconds?: number;
}

/**
 * `GET /_local/clock` (the stack's time, `simulated: false` on the wall clock) and `POST /_local/clock
 * {"advanceSeconds": n}` (operator tokens only; 400 VALIDATION_FAILED for anything but a whole number from 1 to
 * MAX_ADVANCE_SECONDS; 404 CLOCK_NOT_SIMULATED on the wall clock). Both go through the API's middleware, so
 * authentication, validation and errors are those of every route.
 */
export function clockRoutes(options: ClockRoutesOptions): LocalRoute[] {
  // eslint-disable-next-line no-restricted-syntax -- a stack without a simulated clock runs on the wall clock
  const reading = (): ClockReading => options.clock?.reading() ?? { now: new Date().toISOString(), simulated: false, offsetSeconds: 0 };
  return [
    {
      method: 'GET',
      path: LOCAL_CLOCK_PATH,
      handler: apiRoute({ routeId: 'LocalClock', access: 'operator' }, async () => jsonResponse(200, reading())),
    },
    {
      method: 'POST',
      path: LOCAL_CLOCK_PATH,
      ...(options.advanceTimeoutSeconds === undefined ? {} : { timeoutSeconds: options.advanceTimeoutSeconds }),
      handler: apiRoute({ routeId: 'AdvanceLocalClock', access: 'operator', body: advanceBodySchema }, async ({ body }) => {
        if (!options.clock) {
          throw new ApiError(404, 'CLOCK_NOT_SIMULATED', 'This local stack runs on the wall clock, which cannot be moved: start it with `npm start -- --clock=simulated` (or LOCAL_CLOCK=simulated).');
        }
        const simulated = options.clock;
        const move = (): void => void simulated.advance(body.advanceSeconds);
        const effects = options.onAdvance ? await options.onAdvance(move) : (move(), {});
        return jsonResponse(200, { ...reading(), ...effects });
      }),
    },
  ];
}
