/**
 * The HTTP error mapping is one catalogue each feature registers into (registerHttpError, beside its error
 * classes): functions/shared/errors.ts imports no feature, and services throw domain errors with their stable
 * code, never HTTP errors; only the HTTP layer (route handlers, functions/api, functions/shared/http) builds
 * an ApiError itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PlanChangeRequestError } from '../../../functions/plan-change/request-errors';
import { toApiError } from '../../../functions/shared/errors';

const FUNCTIONS = path.resolve(__dirname, '..', '..', '..', 'functions');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The relative module specifiers a file imports. */
function relativeImports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)].map((match) => path.relative(FUNCTIONS, path.resolve(path.dirname(file), match[1] as string)));
}

describe('Error catalogue', () => {
  it('should keep functions/shared/errors.ts free of feature imports', () => {
    const imports = ['errors.ts', 'store-contention.ts'].flatMap((file) => relativeImports(path.join(FUNCTIONS, 'shared', file)));
    expect(imports.filter((specifier) => !specifier.startsWith(`shared${path.sep}`))).toEqual([]);
  });

  it('should build ApiErrors only in the HTTP layer: services throw domain errors', () => {
    const httpLayer = (file: string) => /(^|\/)handlers\//.test(file) || file.startsWith('api/') || file.startsWith('shared/');
    const throwers = sourceFiles(FUNCTIONS)
      .map((file) => path.relative(FUNCTIONS, file))
      .filter((file) => !httpLayer(file) && /new ApiError\(/.test(readFileSync(path.join(FUNCTIONS, file), 'utf8')));
    expect(throwers).toEqual([]);
  });

  it("should answer a plan-change refusal with its code's status, message and details, as before", () => {
    const error = toApiError(new PlanChangeRequestError('USAGE_EXCEEDS_PLAN', 'Cannot downgrade: users 25 exceeds 10.', { violations: [{ metric: 'users' }] }));
    expect([error.status, error.code, error.message, error.details, error.expose]).toEqual([422, 'USAGE_EXCEEDS_PLAN', 'Cannot downgrade: users 25 exceeds 10.', { violations: [{ metric: 'users' }] }, true]);
    const unavailable = toApiError(new PlanChangeRequestError('WORKFLOW_UNAVAILABLE', 'The plan change could not be started; nothing was changed. Retry later.'));
    expect([unavailable.status, unavailable.code, unavailable.expose]).toEqual([503, 'WORKFLOW_UNAVAILABLE', false]);
  });
});
