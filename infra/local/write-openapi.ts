/**
 * `npm run openapi`: regenerate functions/api/openapi.json from functions/api/openapi.ts (the route table and
 * the handlers' zod schemas). Commit the result; a unit test fails while the file is stale.
 *   npm run openapi                write the file
 *   npm run openapi -- --check     exit 1 if the file is stale, write nothing
 */
import { runOpenApiCommand } from './openapi-file';

const { code, line } = runOpenApiCommand(process.argv.slice(2));
if (code === 0) process.stdout.write(`${line}\n`);
else {
  process.stderr.write(`${line}\n`);
  process.exit(code);
}
