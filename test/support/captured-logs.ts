/**
 * The shared Powertools logger's entries, captured: it writes JSON lines to process.stdout (and stderr). Import
 * ./log-level-info first in the test file, or only the first invocation logs at INFO.
 */
import { logger } from '../../functions/shared/powertools';

/** Capture from now until `restore` (once per file: `beforeAll`); `clear` forgets what was captured so far. */
export function captureLogs(): { entries(): Array<Record<string, unknown>>; clear(): void; restore(): void } {
  const lines: string[] = [];
  const previous = logger.getLevelName();
  logger.setLogLevel('INFO');
  const capture = (chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  return {
    entries: () =>
      lines
        .flatMap((chunk) => chunk.split('\n'))
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    clear: () => {
      lines.length = 0;
    },
    restore: () => {
      out.mockRestore();
      err.mockRestore();
      logger.setLogLevel(previous);
    },
  };
}
