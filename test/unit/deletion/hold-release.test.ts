/** deletionAfterHoldRelease: when a soft-deleted tenant's hard delete runs once its legal hold is released. */
import { deletionAfterHoldRelease, deletionSchedule, windowPosition } from '../../../functions/deletion/deletion-policy';

const DELETION = deletionSchedule({ tenantId: 'held-corp', requestedAt: new Date('2026-01-01T00:00:00Z'), requestedBy: 'op', retentionDays: 30 });

describe('deletionAfterHoldRelease', () => {
  it('should keep the record and run at the deadline when released before it', () => {
    expect(deletionAfterHoldRelease(DELETION, new Date('2026-01-20T00:00:00Z'))).toEqual({ deletion: DELETION, hardDeleteAt: new Date(DELETION.deadline) });
  });

  it('should run as soon as a schedule can fire (the whole second a minute on), with the window moved there ± the tolerance, when released after the deadline: the deletion is due, not late', () => {
    const now = new Date('2026-03-05T12:00:00.400Z');

    const { deletion, hardDeleteAt } = deletionAfterHoldRelease(DELETION, now);

    // Not now: the local scheduler would fire that at its next tick, sooner than EventBridge Scheduler can (its
    // adapter makes a past time a minute on); a simulated clock moved 60 s from the release makes it due.
    expect(hardDeleteAt).toEqual(new Date('2026-03-05T12:01:00Z'));
    expect(hardDeleteAt.getTime()).toBeLessThanOrEqual(now.getTime() + 60_000);
    expect(deletion).toEqual({ ...DELETION, window: { opensAt: '2026-03-05T11:01:00.000Z', closesAt: '2026-03-05T13:01:00.000Z' } });
    expect(windowPosition(deletion, now)).toEqual({ position: 'due' });
    expect(windowPosition(deletion, hardDeleteAt)).toEqual({ position: 'due' });
    expect(windowPosition(DELETION, now).position).toBe('late'); // what the hold would have looked like unmoved
  });

  it('should keep the tolerance at a second release past the deadline (a hold placed again before the first release fired): the window stays two hours wide', () => {
    const first = deletionAfterHoldRelease(DELETION, new Date('2026-03-01T00:00:00Z')).deletion;

    const { deletion, hardDeleteAt } = deletionAfterHoldRelease(first, new Date('2026-04-01T00:00:00Z'));

    expect(hardDeleteAt).toEqual(new Date('2026-04-01T00:01:00Z'));
    // Was opensAt 2026-03-02T23:00, closesAt 2026-04-30T01:02: the month since the deadline counted as tolerance.
    expect(deletion.window).toEqual({ opensAt: '2026-03-31T23:01:00.000Z', closesAt: '2026-04-01T01:01:00.000Z' });
    expect(windowPosition(deletion, new Date('2026-04-01T01:30:00Z')).position).toBe('late');
  });

  it('should keep a custom tolerance', () => {
    const tight = deletionSchedule({ tenantId: 'held-corp', requestedAt: new Date('2026-01-01T00:00:00Z'), requestedBy: 'op', retentionDays: 30, toleranceSeconds: 600 });
    const { deletion } = deletionAfterHoldRelease(tight, new Date('2026-02-10T00:00:00Z'));
    expect(deletion.window).toEqual({ opensAt: '2026-02-09T23:51:00.000Z', closesAt: '2026-02-10T00:11:00.000Z' });
  });
});
