/**
 * Notice when a process that launched us exits, however it exits. Nothing tells a process that its parent
 * died (SIGKILL, a crash, a SIGHUP npm does not handle): it is silently re-parented and runs on. So we poll.
 *
 * The launchers are our ancestors in our own process group. A shell runs `npm start` as a job, a process group
 * led by npm: npm (and tsx or a shell between, when there is one) are launchers, the interactive shell is not,
 * so `nohup npm start &` keeps running after the terminal's shell exits, while killing npm stops us.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcessStatus {
  readonly ppid: number;
  readonly pgid: number;
  /** A zombie (ended, not yet reaped by its parent) has ended for our purposes. */
  readonly zombie: boolean;
  /** When it started (Linux: clock ticks since boot); tells a reused pid from the process we saw. */
  readonly started?: string;
}

/** A process's parent, group and state: /proc on Linux, `ps` elsewhere; undefined when it does not exist. */
export function processStatus(pid: number): ProcessStatus | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime
    // cstime priority nice num_threads itrealvalue starttime ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), pgid: Number(fields[2]), zombie: fields[0] === 'Z' || fields[0] === 'X', started: fields[19] };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && process.platform === 'linux') return undefined;
  }
  const ps = spawnSync('ps', ['-o', 'ppid=,pgid=,stat=,lstart=', '-p', String(pid)], { encoding: 'utf8' });
  // ps ends its line with a newline, which `$` (no m flag) does not match before.
  const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec((ps.stdout ?? '').trimEnd());
  if (!match) return undefined;
  return { ppid: Number(match[1]), pgid: Number(match[2]), zombie: (match[3] as string).startsWith('Z'), started: (match[4] as string).trim() };
}

export interface Launcher {
  readonly pid: number;
  readonly started?: string;
}

/** Our ancestors in our own process group, nearest first (none when we lead our group). */
export function launchers(self: number = process.pid): Launcher[] {
  const own = processStatus(self);
  if (!own) return [];
  const found: Launcher[] = [];
  for (let pid = own.ppid; pid > 1; ) {
    const status = processStatus(pid);
    if (!status || status.pgid !== own.pgid) break;
    found.push({ pid, started: status.started });
    pid = status.ppid;
  }
  return found;
}

function ended(launcher: Launcher): boolean {
  const status = processStatus(launcher.pid);
  return status === undefined || status.zombie || (launcher.started !== undefined && status.started !== launcher.started);
}

/**
 * Call `onExit` once, with the launcher's pid, when any launcher of `self` (this process) has ended. Polls every
 * `intervalMs` (250 ms: a few small /proc reads). The timer does not keep the process alive. Returns a
 * function that stops watching.
 */
export function watchLaunchers(onExit: (pid: number) => void, intervalMs = 250, self: number = process.pid): { readonly launchers: readonly Launcher[]; stop(): void } {
  const watched = launchers(self);
  const timer = setInterval(() => {
    const gone = watched.find(ended);
    if (!gone) return;
    clearInterval(timer);
    onExit(gone.pid);
  }, intervalMs);
  timer.unref();
  return { launchers: watched, stop: () => clearInterval(timer) };
}
