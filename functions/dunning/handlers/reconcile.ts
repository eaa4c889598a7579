/** POST /billing/reconcile (operators): reconcile every linked subscription now (functions/dunning/reconcile.ts) and answer what changed. */
import { apiRoute } from '../../shared/http/api-handler';
import { jsonResponse } from '../../shared/http/response';
import { reconcileSubscriptions } from '../reconcile';
import { dunningDependencies } from '../stripe-event-processor';

export const handler = apiRoute({ routeId: 'ReconcileBilling', idempotent: true }, async () => jsonResponse(200, await reconcileSubscriptions(dunningDependencies())));
