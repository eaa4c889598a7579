/**
 * What `dependencies` in package.json holds: exactly the packages the deployed functions load at run time
 * (`functions/`), so a Lambda bundle never needs a development package and the local stack's emulators,
 * the local JWT issuer, the CDK app and the tests stay in `devDependencies` (issue 13: aws-local-stepfunctions
 * runs only the local stack). Type-only imports are erased at build time and do not count.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Needed at run time without being imported by name: Powertools idempotency's peer dependency. */
const PEERS: Readonly<Record<string, string>> = { '@aws-lambda-powertools/jmespath': 'peer dependency of @aws-lambda-powertools/idempotency' };

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The packages a source file loads at run time: value imports, re-exports and dynamic imports of bare specifiers. */
export function runtimePackages(source: string): string[] {
  const pattern = /^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^'.][^']*)'|import\('([^'.][^']*)'\)/gm;
  return [...source.matchAll(pattern)]
    .map((match) => (match[1] ?? match[2]) as string)
    .filter((specifier) => !specifier.startsWith('node:'))
    .map((specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/'));
}

const loadedByFunctions = new Set(sourceFiles(join(ROOT, 'functions')).flatMap((file) => runtimePackages(readFileSync(file, 'utf8'))));

describe('package.json dependencies', () => {
  it('should hold every package the deployed functions load at run time', () => {
    expect([...loadedByFunctions].filter((name) => !(name in manifest.dependencies)).sort()).toEqual([]);
  });

  it('should hold nothing else: local-stack, CDK and test packages (aws-local-stepfunctions, jose, ...) are devDependencies', () => {
    expect(Object.keys(manifest.dependencies).filter((name) => !loadedByFunctions.has(name) && !(name in PEERS)).sort()).toEqual([]);
    expect(manifest.devDependencies).toHaveProperty('aws-local-stepfunctions');
  });

  it('should read value imports, re-exports and dynamic imports, and skip type-only, relative and node: imports', () => {
    const source = [
      "import { a } from 'pkg-a';",
      "import type { B } from 'pkg-b';",
      "export { c } from '@scope/pkg-c/sub';",
      "const d = await import('pkg-d');",
      "import { e } from './local';",
      "import { f } from 'node:fs';",
    ].join('\n');
    expect(runtimePackages(source)).toEqual(['pkg-a', '@scope/pkg-c', 'pkg-d']);
  });
});
