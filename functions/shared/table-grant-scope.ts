/**
 * Which IAM grant the lifecycle table's calls of the running code stand for, in the local stack: the local API
 * adapter runs each route's handler inside its route's grant (`withTableGrant`), and the local guard
 * (infra/local/table-grant-guard.ts) refuses any DynamoDB call outside it, as AWS would with the route function's
 * role. Work that runs under other roles on AWS (a workflow execution, the scheduler's own store) leaves the scope
 * with `outsideTableGrant`, even when a request started it. On AWS nothing sets a scope: IAM itself checks.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The grant in force: who holds it (for the refusal's message) and the statements it allows (see routes.ts). */
export interface TableGrantScope<Statement> {
  /** The principal, as AWS would name it in an AccessDeniedException: `<routeId>Function` for a route. */
  readonly principal: string;
  readonly statements: readonly Statement[];
}

const scope = new AsyncLocalStorage<TableGrantScope<unknown>>();

/** Run `work` (and everything it starts) under `grant`. */
export function withTableGrant<Statement, T>(grant: TableGrantScope<Statement>, work: () => T): T {
  return scope.run(grant, work);
}

/** Run `work` (and everything it starts) under no route's grant: what runs under another role on AWS. */
export function outsideTableGrant<T>(work: () => T): T {
  return scope.exit(work);
}

/** The grant in force here, if any. */
export function currentTableGrant<Statement>(): TableGrantScope<Statement> | undefined {
  return scope.getStore() as TableGrantScope<Statement> | undefined;
}
