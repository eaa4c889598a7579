/** `npm start` needs Java 17+ for DynamoDB Local: without it, one line says what is missing and how to install it. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStackError, checkJava } from '../../../infra/local/dynamodb-local';

const HINT = 'install Java 17 or newer (Debian: apt-get install -y openjdk-17-jre-headless) and make sure `java` is on PATH.';
let bin: string;
beforeEach(() => {
  bin = mkdtempSync(join(tmpdir(), 'java-'));
});
afterEach(() => rmSync(bin, { recursive: true, force: true }));

/** A PATH whose only `java` prints `versionLine` to stderr (as `java -version` does) and exits with `status`. */
function fakeJava(versionLine: string, status = 0): NodeJS.ProcessEnv {
  writeFileSync(join(bin, 'java'), `#!/bin/sh\necho '${versionLine}' >&2\nexit ${status}\n`);
  chmodSync(join(bin, 'java'), 0o755);
  return { PATH: bin };
}

describe('Function: checkJava', () => {
  it('should answer the major version of Java 17 and later', () => {
    expect(checkJava(fakeJava('openjdk version "17.0.9" 2023-10-17'))).toBe(17);
    expect(checkJava(fakeJava('openjdk version "21" 2023-09-19'))).toBe(21);
  });

  it('should refuse an older (1.8 is 8) or unreadable version, naming what it found', () => {
    expect(() => checkJava(fakeJava('java version "1.8.0_392"'))).toThrow(new LocalStackError(`DynamoDB Local needs Java 17+, found 8: ${HINT}`));
    expect(() => checkJava(fakeJava('openjdk version "11.0.2"'))).toThrow(new LocalStackError(`DynamoDB Local needs Java 17+, found 11: ${HINT}`));
    expect(() => checkJava(fakeJava('no version here'))).toThrow(new LocalStackError(`DynamoDB Local needs Java 17+, found an unknown version: ${HINT}`));
  });

  it('should say that Java was not found when there is no java on PATH, or it fails', () => {
    expect(() => checkJava({ PATH: bin })).toThrow(new LocalStackError(`DynamoDB Local needs Java, which was not found: ${HINT}`));
    expect(() => checkJava(fakeJava('broken', 1))).toThrow(new LocalStackError(`DynamoDB Local needs Java, which was not found: ${HINT}`));
  });
});
