/**
 * No module of the product imports itself back at load time. In a cycle of value imports, whichever module is loaded
 * first sees the others' exports undefined while its own top-level code runs: the workflow registry, reached from
 * deletion-policy.ts through the scheduler port, built SCHEDULE_TARGETS from feature definitions not yet defined,
 * and every test or handler that loaded dunning-definition.ts first failed with "Cannot read properties of
 * undefined (reading 'scheduleTargets')", while those that loaded the registry first passed. Type-only imports,
 * dynamic `import()` and a `require` inside a function are not load-time imports and do not count. Sources are
 * `.ts` files (the product has no other kind; the test fails if a `.tsx`, `.mts`, `.cts` or `.js` appears).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '../../..');
const SOURCE_DIRECTORIES = ['functions', 'infra'];

function allFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'cdk.out' ? [] : allFiles(path);
    return [path];
  });
}

function sourceFiles(directory: string): string[] {
  return allFiles(directory).filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'));
}

/** The relative module specifiers `file` imports or re-exports values from when it loads. */
export function loadTimeImports(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const clause = statement.importClause;
      const valueImport =
        !clause ||
        (!clause.isTypeOnly &&
          (clause.name !== undefined ||
            (clause.namedBindings !== undefined && (ts.isNamespaceImport(clause.namedBindings) || clause.namedBindings.elements.some((element) => !element.isTypeOnly)))));
      if (valueImport) specifiers.push(statement.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier) && !statement.isTypeOnly) {
      const clause = statement.exportClause;
      if (!clause || !ts.isNamedExports(clause) || clause.elements.some((element) => !element.isTypeOnly)) specifiers.push(statement.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(statement) && !statement.isTypeOnly && ts.isExternalModuleReference(statement.moduleReference) && ts.isStringLiteral(statement.moduleReference.expression)) {
      specifiers.push(statement.moduleReference.expression.text); // import x = require('./x'), export import x = ...
    } else if (ts.isVariableStatement(statement)) {
      // A top-level require (one inside a function runs later, on call, and is no load-time import).
      for (const declaration of statement.declarationList.declarations) {
        const call = declaration.initializer;
        if (call && ts.isCallExpression(call) && ts.isIdentifier(call.expression) && call.expression.text === 'require' && call.arguments[0] && ts.isStringLiteral(call.arguments[0])) specifiers.push(call.arguments[0].text);
      }
    }
  }
  return specifiers.filter((specifier) => specifier.startsWith('.'));
}

/** The cycles of `graph` (strongly connected components of more than one module, or a module importing itself). */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (module: string): void => {
    index.set(module, next);
    low.set(module, next);
    next += 1;
    stack.push(module);
    onStack.add(module);
    for (const dependency of graph.get(module) ?? []) {
      if (!index.has(dependency)) {
        visit(dependency);
        low.set(module, Math.min(low.get(module)!, low.get(dependency)!));
      } else if (onStack.has(dependency)) {
        low.set(module, Math.min(low.get(module)!, index.get(dependency)!));
      }
    }
    if (low.get(module) === index.get(module)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== module);
      if (component.length > 1 || (graph.get(module) ?? []).includes(module)) cycles.push(component.sort());
    }
  };
  for (const module of graph.keys()) if (!index.has(module)) visit(module);
  return cycles;
}

function productGraph(): Map<string, string[]> {
  const files = SOURCE_DIRECTORIES.flatMap((directory) => sourceFiles(join(ROOT, directory)));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = loadTimeImports(file, readFileSync(file, 'utf8')).flatMap((specifier) => {
      const base = resolve(dirname(file), specifier);
      const match = [`${base}.ts`, join(base, 'index.ts')].find((candidate) => known.has(candidate));
      return match ? [match] : [];
    });
    graph.set(file, targets);
  }
  return graph;
}

describe('Import cycles', () => {
  it('should find no cycle of load-time imports among the modules under functions/ and infra/', () => {
    const cycles = importCycles(productGraph()).map((cycle) => cycle.map((file) => relative(ROOT, file)));
    expect(cycles).toEqual([]);
  });

  it('should find only .ts sources (the kind the graph reads) under functions/ and infra/', () => {
    const others = SOURCE_DIRECTORIES.flatMap((directory) => allFiles(join(ROOT, directory))).filter((file) => /\.(tsx|mts|cts|js|mjs|cjs)$/.test(file));
    expect(others.map((file) => relative(ROOT, file))).toEqual([]);
  });

  it('should count value imports and re-exports, and leave type-only ones and dynamic import() out', () => {
    const text = [
      "import { a } from './a';",
      "import type { B } from './b';",
      "import { type C } from './c';",
      "import { type D, d } from './d';",
      "import * as e from './e';",
      "import './f';",
      "export { g } from './g';",
      "export type { H } from './h';",
      "export * from './i';",
      "import { j } from 'some-package';",
      "const k = () => import('./k');",
      "import l = require('./l');",
      "export import m = require('./m');",
      "const n = require('./n');",
      "function later() { return require('./o'); }",
    ].join('\n');
    expect(loadTimeImports('x.ts', text)).toEqual(['./a', './d', './e', './f', './g', './i', './l', './m', './n']);
  });

  it('should report a cycle through several modules and a module importing itself, and no acyclic chain', () => {
    const graph = new Map([
      ['registry', ['scheduler-port']],
      ['scheduler-port', ['deletion-policy']],
      ['deletion-policy', ['registry', 'clock']],
      ['clock', []],
      ['self', ['self']],
    ]);
    expect(importCycles(graph)).toEqual([['deletion-policy', 'registry', 'scheduler-port'], ['self']]);
  });
});
