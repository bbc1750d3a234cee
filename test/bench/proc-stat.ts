// What a process costs, read from /proc (Linux): CPU seconds spent so far and
// resident memory. Read-only; a process that has gone reads as NaN.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** User plus system CPU seconds of every thread of `pid` since it started. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** The fields of /proc/<pid>/stat after the command name (field 3 on), or null once it has gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * CPU seconds of `pid` and of every process it started: the children it has
 * reaped (cutime, cstime) and those still running, theirs included. What a
 * program that spawns helpers really costs.
 */
export function cpuSecondsWithChildren(pid: number): number {
  const fields = statFields(pid);
  if (!fields) return Number.NaN;
  let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = statFields(Number(entry));
    if (!child || Number(child[1]) !== pid) continue;
    // A child that ended meanwhile is counted in cutime once reaped.
    const seconds = cpuSecondsWithChildren(Number(entry));
    if (Number.isFinite(seconds)) ticks += seconds * TICKS_PER_SECOND;
  }
  return ticks / TICKS_PER_SECOND;
}

export interface Resident {
  /** The resident set (VmRSS). */
  rss: number;
  /** Of it, what is not file pages (RssAnon): the node binary's pages are shared by every Node process. */
  anonymous: number;
}

/** The resident set in bytes from one read of /proc/<pid>/status; NaN once the process is gone. */
export function residentBytes(pid: number): Resident {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // Gone: both read as NaN, which the report shows as n/a.
  }
  const kb = (field: string) => {
    const found = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    return found === undefined ? Number.NaN : Number(found) * 1024;
  };
  return { rss: kb('VmRSS'), anonymous: kb('RssAnon') };
}

export function rssBytes(pid: number): number {
  return residentBytes(pid).rss;
}

/** CPU seconds of several named processes over a span of time. */
export class CpuMeter {
  private readonly totals = new Map<string, number>();
  private start = new Map<string, number>();

  constructor(private readonly pids: ReadonlyMap<string, number>) {}

  begin(): void {
    this.start = new Map([...this.pids].map(([name, pid]) => [name, cpuSeconds(pid)]));
  }

  /** Adds the CPU spent since begin() to the running totals. */
  end(): void {
    for (const [name, pid] of this.pids) {
      const spent = cpuSeconds(pid) - (this.start.get(name) ?? Number.NaN);
      this.totals.set(name, (this.totals.get(name) ?? 0) + spent);
    }
  }

  seconds(): Map<string, number> {
    return new Map(this.totals);
  }
}
