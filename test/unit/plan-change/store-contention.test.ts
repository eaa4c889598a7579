import { isStoreContention } from '../../../functions/plan-change/errors';

function named(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(name), { name, ...extra });
}

describe('Function: isStoreContention', () => {
  it.each(['TransactionConflictException', 'ProvisionedThroughputExceededException', 'ThrottlingException', 'InternalServerError'])(
    'should retry %s',
    (name) => {
      expect(isStoreContention(named(name))).toBe(true);
    },
  );

  it('should retry a transaction cancelled only by a conflicting transaction', () => {
    expect(isStoreContention(named('TransactionCanceledException', { CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }] }))).toBe(true);
  });

  it('should not retry a transaction whose condition failed: that is a real answer, not contention', () => {
    expect(isStoreContention(named('TransactionCanceledException', { CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'TransactionConflict' }] }))).toBe(false);
  });

  it.each(['ConditionalCheckFailedException', 'ValidationException', 'InjectedFault'])('should not retry %s', (name) => {
    expect(isStoreContention(named(name))).toBe(false);
  });
});
