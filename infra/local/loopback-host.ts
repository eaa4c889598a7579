/**
 * The local stack's HTTP servers answer only requests addressed to a loopback name. They listen on 127.0.0.1
 * only, so nobody else on the network can connect; but a web page the user opens can still reach them through
 * the browser by DNS rebinding (its own name, `attacker.example`, made to resolve to 127.0.0.1): the browser
 * then sends `Host: attacker.example:<port>`, which no client of ours ever sends.
 */
import type { ApiResult } from '../../functions/shared/http/response';
import { jsonResponse } from '../../functions/shared/http/response';

/**
 * The Host values accepted: `127.0.0.1`, `localhost` and `[::1]`, each with or without a port, `localhost` in any
 * case (host names are case-insensitive, RFC 9110 §4.2.3). Not `*.localhost`: RFC 6761 reserves those names for
 * loopback, but not every resolver honours that, and a name a resolver sends to DNS can be rebound; nothing of
 * ours uses them. Not `localhost.` either (a name DNS may answer).
 */
export const LOOPBACK_HOST_PATTERN = /^(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?$/i;

/** Whether a Host header names this machine's loopback interface (LOOPBACK_HOST_PATTERN); a missing one does not. */
export function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST_PATTERN.test(host);
}

/** What a refused request is told: which Host was refused, why, and what to use instead. */
export function misdirectedMessage(host: string | undefined, origin: string): string {
  return (
    `This local server answers only requests addressed to 127.0.0.1, localhost or [::1], not to ${host === undefined ? 'a request without a Host header' : `Host '${host}'`}: ` +
    `a web page reaching it under another name (DNS rebinding) is refused. Use ${origin}.`
  );
}

/**
 * The API's answer to a request whose Host is not a loopback name: `421 Misdirected Request` ("the request was
 * directed at a server that is unable or unwilling to produce an authoritative response for the target URI",
 * RFC 9110 §15.5.20), in the API's error shape, code `MISDIRECTED_REQUEST`; undefined for a loopback Host. Called
 * before anything else reads the request, so a refused request changes nothing.
 */
export function refuseMisdirected(host: string | undefined, origin: string): ApiResult | undefined {
  if (isLoopbackHost(host)) return undefined;
  return jsonResponse(421, { error: { code: 'MISDIRECTED_REQUEST', message: misdirectedMessage(host, origin) } });
}
