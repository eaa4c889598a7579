/**
 * Building blocks of every request schema: numbers whose bounds survive JSON, JavaScript and DynamoDB exactly,
 * and text that is printable Unicode. One rule per kind of field, so each route's schema says only its bounds,
 * and each message says what to send instead.
 */
import * as z from 'zod';

/**
 * The largest integer JSON, JavaScript numbers and lib-dynamodb all carry exactly (2^53 - 1): lib-dynamodb
 * refuses to write a larger JavaScript number (it would have to round it), so nothing larger may get in.
 */
export const MAX_EXACT_INTEGER = Number.MAX_SAFE_INTEGER;

/**
 * A whole number from `min` to `max` (inclusive). Any mistake (a fraction, a string, out of range, NaN or
 * Infinity, which JSON makes of `1e400`) gets the one message that says what to send.
 */
export function wholeNumber(min: number, max: number, unit?: string) {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) throw new Error(`wholeNumber: bounds ${min}..${max} must be exact integers`);
  const message = `must be a whole number${unit ? ` of ${unit}` : ''} from ${min} to ${max}`;
  return z.number({ error: message }).int(message).min(min, message).max(max, message);
}

/**
 * A decimal from `min` to `max` with at most `places` decimal places. Bounded precision keeps the value exact
 * through JSON and DynamoDB (a number stored as `0.30000000000000004` or `5e-324` is refused: DynamoDB's
 * smallest magnitude is 1E-130), and `max * 10^places` stays an exact integer.
 */
export function decimal(min: number, max: number, places: number) {
  const scale = 10 ** places;
  if (!Number.isSafeInteger(max * scale) || !Number.isSafeInteger(min * scale)) throw new Error(`decimal: ${min}..${max} with ${places} places is not exact`);
  const message = `must be a number from ${min} to ${max} with at most ${places} decimal places`;
  return z
    .number({ error: message })
    .min(min, message)
    .max(max, message)
    .refine((value) => Number(value.toFixed(places)) === value, message)
    .meta({ multipleOf: 1 / scale });
}

/**
 * A whole number sent in a query string (`?limit=25`): decimal digits only, so `0x10`, `1e1`, ` 5` and the
 * empty string are refused rather than read as 16, 10, 5 and 0.
 */
export function queryWholeNumber(min: number, max: number) {
  return z.preprocess((value) => (typeof value === 'string' && /^[0-9]{1,16}$/.test(value) ? Number(value) : value), wholeNumber(min, max));
}

// C0 and C1 control characters, DEL among them: tab and newline too, since no field here is multi-line.
const CONTROL_CHARACTER = /\p{Cc}/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const REPLACEMENT_CHARACTER = '\ufffd';

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * What is wrong with `value` as text, or undefined: a control character, a lone surrogate (JSON's `"\ud800"`,
 * which is not Unicode text and cannot be stored as UTF-8), or U+FFFD, the replacement character a lossy
 * decoder leaves where bytes were not UTF-8, so the sender's text was already lost.
 */
export function textProblem(value: string): string | undefined {
  const control = CONTROL_CHARACTER.exec(value);
  if (control) return `must not contain control characters (found ${codePoint(control[0])} at position ${control.index})`;
  if (LONE_SURROGATE.test(value)) return 'must be Unicode text: it contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)';
  if (value.includes(REPLACEMENT_CHARACTER)) return 'must not contain U+FFFD, the replacement character that stands for bytes that were not UTF-8: send the text as UTF-8';
  return undefined;
}

/** Refuse what `textProblem` finds; checked on the value as sent, before any trimming. */
export function printable<T extends z.ZodType<string>>(schema: T): T {
  return schema.superRefine((value, context) => {
    const problem = textProblem(value);
    if (problem) context.addIssue({ code: 'custom', message: problem, input: value });
  }) as T;
}

/**
 * Free text (a name, a reason): printable, trimmed, 1 to `max` characters. Markup such as `<script>` is data
 * like any other text: every answer is JSON with its content type, so it is never interpreted as HTML.
 */
export function text(max: number) {
  return printable(z.string()).trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
}
