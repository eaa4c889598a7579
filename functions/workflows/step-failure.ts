/** What a state machine's Catch hands to a workflow's failure step, and how it reads. */

/** The error name and its cause, as a Catch with `ResultPath` places them. */
export interface StepFailure {
  readonly Error: string;
  readonly Cause?: string;
}

/** The failure's code and message; a Lambda error's Cause (the JSON of `{ errorType, errorMessage }`) is unwrapped. */
export function describeFailure(failure: StepFailure | undefined, fallback = 'The workflow failed without an error.'): { code: string; message: string } {
  if (!failure) return { code: 'Unknown', message: fallback };
  let message = failure.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: string };
    if (parsed.errorMessage) message = parsed.errorMessage;
  } catch {
    // plain text cause
  }
  return { code: failure.Error, message };
}
