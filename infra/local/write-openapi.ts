/**
 * `npm run openapi`: regenerate functions/api/openapi.json from functions/api/openapi.ts (the route table and
 * the handlers' zod schemas). Commit the result; a unit test fails while the file is stale.
 *   npm run openapi                write the file
 *   npm run openapi -- --check     exit 1 if the file is stale, write nothing
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OPENAPI_JSON_PATH, renderOpenApiJson } from '../../functions/api/openapi';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } }, strict: true });
const target = join(__dirname, '..', '..', OPENAPI_JSON_PATH);
const rendered = renderOpenApiJson();

if (values.check) {
  let current: string | undefined;
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== rendered) {
    process.stderr.write(`${OPENAPI_JSON_PATH} is out of date with functions/api/openapi.ts: run npm run openapi\n`);
    process.exit(1);
  }
  process.stdout.write(`${OPENAPI_JSON_PATH} is up to date\n`);
} else {
  writeFileSync(target, rendered);
  process.stdout.write(`wrote ${OPENAPI_JSON_PATH}\n`);
}
