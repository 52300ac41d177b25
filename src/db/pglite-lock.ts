import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * One process per PGlite directory. PGlite keeps no lock of its own: two servers on one
 * directory both sell the same seats and hand out the same ids, and whichever stops last
 * overwrites the other's writes. The lock is a file created exclusively in the directory,
 * holding the owner's PID and start time; it is removed on close, and one whose process is gone
 * (killed, crashed) is stale and taken over.
 */

export const LOCK_FILE_NAME = 'seatwatch.lock';

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`${dataDir} is in use by process ${pid}: stop it first (one server per PGlite directory)`);
    this.name = 'DataDirInUseError';
  }
}

interface LockOwner {
  pid: number;
  /** Clock ticks after boot (/proc/<pid>/stat), telling a reused PID apart; null where there is no /proc. */
  startTime: string | null;
}

/** Directories this process image holds, by absolute path. */
const heldHere = new Set<string>();

function startTimeOf(pid: number): string | null {
  try {
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it only belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(lockPath: string): LockOwner | null {
  try {
    const [pid, startTime] = readFileSync(lockPath, 'utf8').trim().split(' ');
    return { pid: Number(pid), startTime: startTime || null };
  } catch {
    return null;
  }
}

function ownerIsAlive(owner: LockOwner, dataDir: string): boolean {
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return false;
  // This PID, yet not held by this image: left by the image `bun --watch` replaced (same PID, exec).
  if (owner.pid === process.pid) return heldHere.has(dataDir);
  if (!isRunning(owner.pid)) return false;
  const startTime = startTimeOf(owner.pid);
  return owner.startTime === null || startTime === null || startTime === owner.startTime;
}

function createLockFile(lockPath: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes `dataDir` for this process, or throws DataDirInUseError naming the process that holds
 * it. The result releases it (idempotent); the lock also goes when the process exits normally.
 */
export function lockDataDir(dataDir: string): () => void {
  const absoluteDir = resolve(dataDir);
  const lockPath = join(absoluteDir, LOCK_FILE_NAME);
  const content = `${process.pid} ${startTimeOf(process.pid) ?? ''}\n`;
  if (heldHere.has(absoluteDir)) throw new DataDirInUseError(dataDir, process.pid);

  for (let attempt = 0; ; attempt++) {
    if (createLockFile(lockPath, content)) break;
    const owner = readOwner(lockPath);
    if (owner && ownerIsAlive(owner, absoluteDir)) throw new DataDirInUseError(dataDir, owner.pid);
    if (attempt >= 3) throw new Error(`cannot lock ${dataDir}: ${lockPath} keeps changing`);
    // Stale. Moved aside rather than deleted, so that of two processes taking it over at once only
    // one removes it; a lock found fresh after all (the other just took it) is put back.
    const aside = `${lockPath}.${process.pid}`;
    try {
      renameSync(lockPath, aside);
    } catch {
      continue;
    }
    const moved = readOwner(aside);
    if (moved && ownerIsAlive(moved, absoluteDir)) {
      try {
        linkSync(aside, lockPath);
      } catch {}
      unlinkSync(aside);
      throw new DataDirInUseError(dataDir, moved.pid);
    }
    unlinkSync(aside);
  }

  heldHere.add(absoluteDir);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(absoluteDir);
    process.off('exit', release);
    // Only our own lock: never one a later owner wrote.
    if (readOwner(lockPath)?.pid === process.pid) {
      try {
        unlinkSync(lockPath);
      } catch {}
    }
  };
  process.on('exit', release);
  return release;
}
