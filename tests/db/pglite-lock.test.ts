import { afterAll, afterEach, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError, LOCK_FILE_NAME, lockDataDir } from '../../src/db/pglite-lock';
import { failedStart, killServerProcesses, spawnServer, startServerProcess, type ServerProcess } from '../support/server-process';

/** One server per PGlite directory: real server processes on the default ./data/pglite of a temp directory. */

const workDir = mkdtempSync(join(tmpdir(), 'seatwatch-lock-'));
const lockPath = join(workDir, 'data/pglite', LOCK_FILE_NAME);
afterEach(killServerProcesses);
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const serverEnv = { JWT_SECRET: 'a-test-secret-that-is-long-enough-123' };

async function health(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/health`)).status;
}

describe('two servers on one directory', () => {
  let first: ServerProcess & { port: number };

  test('the second refuses to start with one line naming the first one’s process, and the first keeps serving', async () => {
    first = await startServerProcess(serverEnv, { cwd: workDir });
    const second = spawnServer(serverEnv, { cwd: workDir });
    const { exitCode, stderr, stdout } = await failedStart(second);
    expect({ exitCode, stderr }).toEqual({
      exitCode: 1,
      stderr: `Failed to start: ./data/pglite is in use by process ${first.child.pid}: stop it first (one server per PGlite directory)\n`,
    });
    expect(stdout.some((line) => String(line.msg).includes('listening'))).toBe(false);
    expect(await health(first.port)).toBe(200);
  }, 120_000);

  test('a lock left by a killed server does not block a restart, and a clean stop removes it', async () => {
    first.child.kill('SIGKILL');
    await first.child.exited;
    expect(readFileSync(lockPath, 'utf8')).toStartWith(`${first.child.pid} `);

    const restarted = await startServerProcess(serverEnv, { cwd: workDir });
    expect(await health(restarted.port)).toBe(200);
    expect(readFileSync(lockPath, 'utf8')).toStartWith(`${restarted.child.pid} `);
    restarted.child.kill('SIGTERM');
    expect(await restarted.child.exited).toBe(0);
    expect(existsSync(lockPath)).toBe(false);
  }, 120_000);
});

describe('lockDataDir', () => {
  const dir = () => mkdtempSync(join(workDir, 'dir-'));

  test('a directory this process holds cannot be taken again until released', () => {
    const dataDir = dir();
    const release = lockDataDir(dataDir);
    expect(() => lockDataDir(dataDir)).toThrow(new DataDirInUseError(dataDir, process.pid));
    release();
    expect(existsSync(join(dataDir, LOCK_FILE_NAME))).toBe(false);
    lockDataDir(dataDir)();
  });

  test('a running process’s lock holds; a lock of the same PID with another start time is a reused PID, stale', () => {
    const dataDir = dir();
    const parentStat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const parentStartTime = parentStat.slice(parentStat.lastIndexOf(')') + 2).split(' ')[19];
    writeFileSync(join(dataDir, LOCK_FILE_NAME), `${process.ppid} ${parentStartTime}\n`);
    expect(() => lockDataDir(dataDir)).toThrow(new DataDirInUseError(dataDir, process.ppid));

    writeFileSync(join(dataDir, LOCK_FILE_NAME), `${process.ppid} 1\n`);
    const release = lockDataDir(dataDir);
    expect(readFileSync(join(dataDir, LOCK_FILE_NAME), 'utf8')).toStartWith(`${process.pid} `);
    release();
  });

  test('a lock of this PID this image does not hold was left by the image `bun --watch` replaced: taken over', () => {
    const dataDir = dir();
    writeFileSync(join(dataDir, LOCK_FILE_NAME), `${process.pid} 1\n`);
    lockDataDir(dataDir)();
  });
});
