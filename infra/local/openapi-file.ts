/**
 * functions/api/openapi.json, the generated OpenAPI document (from functions/api/openapi.ts: the route table
 * and the handlers' zod schemas): written, or checked for staleness, by `npm run openapi`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OPENAPI_JSON_PATH, renderOpenApiJson } from '../../functions/api/openapi';

/** Where the committed document lives. */
export const OPENAPI_JSON_FILE = join(__dirname, '..', '..', OPENAPI_JSON_PATH);

/**
 * `npm run openapi [-- --check]`: write `target` (code 0, a line for stdout), or with `--check` write nothing
 * and answer code 1 and a line for stderr when `target` is missing or differs from the rendered document.
 * Throws node's TypeError (code ERR_PARSE_ARGS_*) for an unknown option.
 */
export function runOpenApiCommand(args: readonly string[], target: string = OPENAPI_JSON_FILE): { code: 0 | 1; line: string } {
  const { values } = parseArgs({ args: [...args], options: { check: { type: 'boolean', default: false } }, strict: true });
  const rendered = renderOpenApiJson();
  if (!values.check) {
    writeFileSync(target, rendered);
    return { code: 0, line: `wrote ${OPENAPI_JSON_PATH}` };
  }
  let current: string | undefined;
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== rendered) return { code: 1, line: `${OPENAPI_JSON_PATH} is out of date with functions/api/openapi.ts: run npm run openapi` };
  return { code: 0, line: `${OPENAPI_JSON_PATH} is up to date` };
}
