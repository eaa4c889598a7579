/**
 * Errors the export steps throw. Their names are a contract with statemachines/export.asl.json: Retry and
 * Catch match on them (a Lambda error's type is the error's `name`), and test/statemachines/export-asl.test.ts
 * checks that every name the ASL uses is exported here or is a reserved name.
 */
import { TRANSIENT_LAMBDA_INVOKE_ERRORS } from '../workflows/lambda-invoke-errors';

/**
 * The stored export does not match its manifest: a part missing, altered (sha256 or size), holding another
 * number of records, or a source whose exported count differs from what it held. The message names each
 * part or source at fault. Never retried: the export fails.
 */
export class ExportVerificationError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`The export does not match its manifest: ${problems.join('; ')}.`);
    this.name = 'ExportVerificationError';
    this.problems = problems;
  }
}

/**
 * The object store answered with a server-side or throttling error after the SDK's own retries: the step
 * is retried by the state machine (every write of a step lands on the same keys, so a retry overwrites).
 */
export class ExportStorageTransientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ExportStorageTransientError';
  }
}

/** The tenant cannot be exported now (its state, or another operation owns it); the export fails with the reason. */
export class ExportNotAllowedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ExportNotAllowedError';
  }
}

/** A download was asked for an export past its retention (the local adapter enforces the expiry S3 lifecycle enforces on AWS). */
export class ExportExpiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportExpiredError';
  }
}

/** Error names the export ASL may use besides ours: the States language's own, Lambda's transient invoke errors and `Lambda.Unknown` (a crash, out of memory or a function timeout). */
export const EXPORT_ASL_RESERVED_ERRORS = ['States.ALL', 'States.Timeout', 'Lambda.Unknown', ...TRANSIENT_LAMBDA_INVOKE_ERRORS] as const;
