/**
 * CPU time of a process and its descendants, read from Linux's /proc: how a bench tells the work of an emulator
 * it started (DynamoDB Local's JVM runs under a shell guard) from its own.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * User plus system CPU time of `pid` and every process below it, in milliseconds; undefined where /proc cannot be
 * read (not Linux). A process that exits between the listing and the read is left out.
 */
export function processTreeCpuMs(pid: number): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const stats = new Map<number, { parent: number; ticks: number }>();
  for (const entry of entries) {
    try {
      // Fields after the command (which may hold spaces, in parentheses): state, ppid, ..., utime (14th), stime (15th).
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      stats.set(Number(entry), { parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // exited meanwhile
    }
  }
  if (!stats.has(pid)) return undefined;
  const inTree = (candidate: number): boolean => {
    for (let current: number | undefined = candidate; current !== undefined && current > 1; current = stats.get(current)?.parent) {
      if (current === pid) return true;
    }
    return false;
  };
  let ticks = 0;
  for (const [candidate, stat] of stats) if (inTree(candidate)) ticks += stat.ticks;
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** This process's user plus system CPU time so far, in milliseconds. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
