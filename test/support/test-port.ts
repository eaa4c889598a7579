/**
 * A free loopback port for a server whose port a test must name before the server starts (a stack restarted on the
 * same DynamoDB port, `npm start` with PORT/DYNAMODB_PORT/S3_PORT). Chosen at random below the kernel's ephemeral
 * range (Linux: 32768-60999), where every server started with port 0 lands (the suite's DynamoDB Local and S3
 * server, the stacks' own): a port reserved here and bound a moment later cannot be taken in between by another jest
 * worker's port-0 server, which happened with reservePort(0) (a DynamoDB Local port answered by a parallel s3rver).
 * Throws reservePort's LocalStackError if 20 random ports were all in use.
 */
import { randomInt } from 'node:crypto';
import { reservePort } from '../../infra/local/dynamodb-local';

const FIRST = 20_000;
const LAST = 32_000;
/** Ports handed out by this process: tests that start several servers at once (npm-start-stop) never get one twice. */
const handedOut = new Set<number>();

export async function testPort(what: string): Promise<number> {
  for (let attempt = 1; ; attempt += 1) {
    const port = randomInt(FIRST, LAST);
    if (handedOut.has(port)) continue;
    try {
      await reservePort(port, what);
      handedOut.add(port);
      return port;
    } catch (error) {
      if (attempt >= 20) throw error;
    }
  }
}
