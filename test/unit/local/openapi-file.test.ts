/** `npm run openapi`: writes the document the openapi test compares with, and `--check` tells a stale file. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPENAPI_JSON_PATH, buildOpenApiDocument } from '../../../functions/api/openapi';
import { OPENAPI_JSON_FILE, runOpenApiCommand } from '../../../infra/local/openapi-file';

let dir: string;
let target: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'openapi-'));
  target = join(dir, 'openapi.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Function: runOpenApiCommand', () => {
  it('should write the document built from the route table, as 2-space JSON with a trailing newline', () => {
    expect(runOpenApiCommand([], target)).toEqual({ code: 0, line: `wrote ${OPENAPI_JSON_PATH}` });

    const written = readFileSync(target, 'utf8');
    expect(JSON.parse(written)).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
    expect(written).toBe(`${JSON.stringify(JSON.parse(written), null, 2)}\n`);
  });

  it('should write where the openapi test reads the committed document', () => {
    expect(OPENAPI_JSON_FILE).toBe(join(__dirname, '..', '..', '..', OPENAPI_JSON_PATH));
  });

  it('with --check, should pass an up-to-date file and fail a stale or missing one, writing nothing', () => {
    runOpenApiCommand([], target);
    expect(runOpenApiCommand(['--check'], target)).toEqual({ code: 0, line: `${OPENAPI_JSON_PATH} is up to date` });

    const stale = `${readFileSync(target, 'utf8').trimEnd()} `;
    writeFileSync(target, stale);
    const outOfDate = { code: 1, line: `${OPENAPI_JSON_PATH} is out of date with functions/api/openapi.ts: run npm run openapi` };
    expect(runOpenApiCommand(['--check'], target)).toEqual(outOfDate);
    expect(readFileSync(target, 'utf8')).toBe(stale);
    expect(runOpenApiCommand(['--check'], join(dir, 'missing.json'))).toEqual(outOfDate);
  });

  it('should refuse an unknown option as node does', () => {
    expect(() => runOpenApiCommand(['--write'], target)).toThrow(expect.objectContaining({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }));
  });
});
