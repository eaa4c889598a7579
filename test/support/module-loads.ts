/**
 * Counts how many times a module is loaded in the current jest module registry (call it inside
 * jest.isolateModulesAsync, before requiring the code under test): the module itself is the real one.
 */
export function countLoads(moduleName: string): () => number {
  let loads = 0;
  jest.doMock(moduleName, () => {
    loads += 1;
    return jest.requireActual(moduleName);
  });
  return () => loads;
}
