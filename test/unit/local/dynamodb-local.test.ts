/**
 * The embedded DynamoDB Local of `npm start` and of the integration suite: a port that is taken is refused
 * with a message that says what to do, and a database started on disk answers and stops with its JVM.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'node:child_process';
import { checkJava, databaseFileName, dynamoDbLocalCommand, dynamoDbLocalEnvironment, LocalStackError, loopbackLauncher, onFreePort, PortTakenError, reservePort, startDynamoDbLocal, waitForChild } from '../../../infra/local/dynamodb-local';
import { newLocalCredentials } from '../../../infra/local/loopback-env';

describe('Function: onFreePort', () => {
  it('should choose another free port when another process took the one chosen (parallel test workers), up to 3 tries', async () => {
    const tried: number[] = [];
    const started = await onFreePort(0, 'a server', async (port) => {
      tried.push(port);
      if (tried.length < 3) throw new PortTakenError(`port ${port} taken`);
      return port;
    });
    expect(started).toBe(tried[2]);
    expect(tried).toHaveLength(3);
    await expect(onFreePort(0, 'a server', async (port) => Promise.reject(new PortTakenError(`port ${port} taken`)))).rejects.toBeInstanceOf(PortTakenError);
  });

  it("should not choose again for a port the caller chose, nor for another failure", async () => {
    const port = await reservePort(0, 'a server');
    let calls = 0;
    await expect(onFreePort(port, 'a server', async () => { calls += 1; throw new PortTakenError('taken'); })).rejects.toThrow('taken');
    await expect(onFreePort(0, 'a server', async () => { calls += 1; throw new LocalStackError('no Java'); })).rejects.toThrow('no Java');
    expect(calls).toBe(2);
  });
});

describe('Function: waitForChild', () => {
  it('should say the port was taken when the child exits unable to bind it, and stop waiting at once', async () => {
    const child = spawn(process.execPath, ['-e', "console.error('Error: listen EADDRINUSE: address already in use 127.0.0.1:4569'); process.exit(1)"], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const waited = waitForChild('The local S3 server', 'http://127.0.0.1:4569', child, () => output, () => Promise.reject(new Error('not yet')), 30_000, 20);
    await expect(waited).rejects.toBeInstanceOf(PortTakenError);
    await expect(waited).rejects.toThrow(/exited with code 1: Error: listen EADDRINUSE/);
  });

  it('should stop waiting when the probe finds another server on the port', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 10000)'], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      const started = Date.now();
      await expect(waitForChild('DynamoDB Local', 'http://127.0.0.1:1', child, () => '', () => Promise.reject(new PortTakenError('another server answers there')), 30_000, 20)).rejects.toThrow('another server answers there');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      child.kill();
    }
  });
});

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

describe('Function: startDynamoDbLocal, with JVM options of the user in the environment', () => {
  const saved = { JDK_JAVA_OPTIONS: process.env.JDK_JAVA_OPTIONS, _JAVA_OPTIONS: process.env._JAVA_OPTIONS, JAVA_TOOL_OPTIONS: process.env.JAVA_TOOL_OPTIONS };
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('should start and answer although they name another garbage collector (it refused to start: "Multiple garbage collectors selected")', async () => {
    process.env.JDK_JAVA_OPTIONS = '-XX:+UseG1GC';
    process.env._JAVA_OPTIONS = '-XX:+UseParallelGC';
    process.env.JAVA_TOOL_OPTIONS = '-XX:+UseZGC';
    const dynamo = await startDynamoDbLocal();
    const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: newLocalCredentials() });
    try {
      await expect(client.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
    } finally {
      client.destroy();
      await dynamo.stop();
    }
  });

  it('should leave every other variable as it is', () => {
    expect(dynamoDbLocalEnvironment({ PATH: '/usr/bin', HOME: '/root', JDK_JAVA_OPTIONS: '-Xmx2g', _JAVA_OPTIONS: '-Xss1m', JAVA_TOOL_OPTIONS: '-Dx=1' })).toEqual({ PATH: '/usr/bin', HOME: '/root' });
  });
});

/** How a TCP connection to `host:port` ends: `connected` or the error's code. */
function connection(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('Function: loopbackLauncher', () => {
  it('should compile the loopback launcher once, and give none (DynamoDB Local then runs from its jar) without javac', () => {
    const cache = mkdtempSync(join(tmpdir(), 'ddb-launcher-'));
    try {
      expect(loopbackLauncher(undefined, cache, 'no-such-javac')).toBeUndefined();
      expect(readdirSync(cache)).toEqual([]);
      const launcher = loopbackLauncher(undefined, cache);
      expect(launcher).toBeDefined();
      expect(existsSync(join(launcher as string, 'LoopbackDynamoDbLocal.class'))).toBe(true);
      expect(loopbackLauncher(undefined, cache, 'no-such-javac')).toBe(launcher); // compiled once, found after
      expect(dynamoDbLocalCommand(8000, undefined, '/ddb', launcher)).toEqual(expect.arrayContaining(['-cp', 'LoopbackDynamoDbLocal', '-inMemory', '-port', '8000']));
      expect(dynamoDbLocalCommand(8000, '/data', '/ddb')).toEqual(expect.arrayContaining(['-jar', join('/ddb', 'DynamoDBLocal.jar'), '-dbPath', '/data']));
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('should bind DynamoDB Local to 127.0.0.1 where a JDK compiles the launcher (the LAN address is refused), and say where it listens', async () => {
    const lan = Object.values(networkInterfaces()).flat().find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
    // A JRE without javac runs the jar on every interface (its data then kept by the key alone): said, not hidden.
    const expected = loopbackLauncher() ? '127.0.0.1' : 'every interface';
    if (expected !== '127.0.0.1') process.stderr.write('dynamodb-local.test.ts: no javac here; DynamoDB Local runs on every interface.\n');
    const dynamo = await startDynamoDbLocal();
    try {
      expect(dynamo.listensOn).toBe(expected);
      expect(await connection('127.0.0.1', dynamo.port)).toBe('connected');
      if (lan) expect(await connection(lan, dynamo.port)).toBe(expected === '127.0.0.1' ? 'ECONNREFUSED' : 'connected');
      else process.stderr.write('dynamodb-local.test.ts: no non-loopback IPv4 address here; the LAN connection is not tried.\n');
    } finally {
      await dynamo.stop();
    }
  });
});
