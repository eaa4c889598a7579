/**
 * The embedded DynamoDB Local of `npm start` and of the integration suite: a port that is taken is refused
 * with a message that says what to do, and a database started on disk answers and stops with its JVM.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { checkJava, databaseFileName, LocalStackError, reservePort, startDynamoDbLocal } from '../../../infra/local/dynamodb-local';
import { newLocalCredentials } from '../../../infra/local/loopback-env';

describe('Function: reservePort', () => {
  let holder: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
    holder = undefined;
  });

  it('should pick a free loopback port for 0', async () => {
    expect(await reservePort(0, 'the API')).toBeGreaterThan(0);
  });

  it('should refuse a port that is already in use, naming it and what it was for', async () => {
    holder = createServer();
    const port = await new Promise<number>((resolve) => holder?.listen(0, '127.0.0.1', () => resolve((holder?.address() as { port: number }).port)));

    const refused = reservePort(port, 'the API (set PORT or --port)');

    await expect(refused).rejects.toBeInstanceOf(LocalStackError);
    await expect(refused).rejects.toThrow(`Port ${port} for the API (set PORT or --port) is already in use`);
  });
});

describe('Function: checkJava', () => {
  it('should find the Java 17+ DynamoDB Local needs', () => {
    expect(checkJava()).toBeGreaterThanOrEqual(17);
  });
});

describe('Function: startDynamoDbLocal', () => {
  it('should start a database kept on disk, one file per access key (none for its own readiness probe), answer on loopback, and stop its JVM', async () => {
    const dbPath = mkdtempSync(join(tmpdir(), 'ddb-local-'));
    const dynamo = await startDynamoDbLocal({ dbPath });
    const credentials = newLocalCredentials();
    const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials });
    try {
      expect(dynamo.endpoint).toBe(`http://127.0.0.1:${dynamo.port}`);
      expect(readdirSync(dbPath).filter((file) => file.endsWith('.db'))).toEqual([]);
      await expect(client.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
      expect(readdirSync(dbPath).filter((file) => file.endsWith('.db'))).toEqual([databaseFileName(credentials.accessKeyId, 'us-east-1')]);
    } finally {
      client.destroy();
      await dynamo.stop();
      rmSync(dbPath, { recursive: true, force: true });
    }
    expect(dynamo.process.exitCode !== null || dynamo.process.signalCode !== null).toBe(true);
    await dynamo.stop(); // stopping twice is harmless
  });
});
