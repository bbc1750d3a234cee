// Recording rules: which stretches of time history keeps, for all hosts and per
// host. Paused stretches and wipes are judged by each sample's own time, so a
// late sample, a replayed spool or a Redis rebuild lands exactly as the live one
// did. The record lives in a NATS KV bucket (JetStream is the record); each
// host's Redis copy lets the fold decide atomically. The format lives here; the
// KV access is deploy/runtime/recording-store.ts.

import type { RedisClient } from '../deploy/runtime/redis.ts';
import { keys } from './keys.ts';

/** [from, to) in epoch ms; `to` null while the pause lasts. */
export type Stretch = [from: number, to: number | null];

export interface ScopeRules {
  paused: Stretch[];
  /** Samples before this time are never kept again (a reset). */
  wipedBefore: number;
}

export interface RecordingRules {
  all: ScopeRules;
  hosts: Record<string, ScopeRules>;
}

export const RECORDING_BUCKET = 'loadstar_recording';
/** The one key of RECORDING_BUCKET that holds the rules, as JSON (parseRules reads it). */
export const RULES_KEY = 'rules';

export function emptyRules(): RecordingRules {
  return { all: { paused: [], wipedBefore: 0 }, hosts: {} };
}

function scope(rules: RecordingRules, host: string): ScopeRules {
  return rules.hosts[host] ?? { paused: [], wipedBefore: 0 };
}

const inside = (time: number, [from, to]: Stretch) => time >= from && (to === null || time < to);

/** Whether history keeps a sample of `host` taken at `time`. */
export function isRecorded(rules: RecordingRules, host: string, time: number): boolean {
  const own = scope(rules, host);
  if (time < Math.max(rules.all.wipedBefore, own.wipedBefore)) return false;
  return !rules.all.paused.some((s) => inside(time, s)) && !own.paused.some((s) => inside(time, s));
}

/** Whether recording is on right now, and if not, which pause holds it. */
export function recordingNow(
  rules: RecordingRules,
  host: string | null,
): { recording: boolean; pausedBy: 'all' | 'host' | null; since: number | null } {
  const open = (s: ScopeRules) => s.paused.find(([, to]) => to === null);
  const all = open(rules.all);
  const own = host === null ? undefined : open(scope(rules, host));
  if (own) return { recording: false, pausedBy: 'host', since: own[0] };
  if (all) return { recording: false, pausedBy: 'all', since: all[0] };
  return { recording: true, pausedBy: null, since: null };
}

function edit(
  rules: RecordingRules,
  host: string | null,
  change: (s: ScopeRules) => void,
): RecordingRules {
  const next: RecordingRules = structuredClone(rules);
  if (host === null) change(next.all);
  else {
    next.hosts[host] ??= { paused: [], wipedBefore: 0 };
    change(next.hosts[host]);
  }
  return next;
}

export function pause(rules: RecordingRules, host: string | null, now: number): RecordingRules {
  return edit(rules, host, (s) => {
    if (!s.paused.some(([, to]) => to === null)) s.paused.push([now, null]);
  });
}

export function resume(rules: RecordingRules, host: string | null, now: number): RecordingRules {
  return edit(rules, host, (s) => {
    for (const stretch of s.paused) if (stretch[1] === null) stretch[1] = Math.max(now, stretch[0]);
  });
}

export function wipe(rules: RecordingRules, host: string | null, now: number): RecordingRules {
  return edit(rules, host, (s) => {
    s.wipedBefore = Math.max(s.wipedBefore, now);
  });
}

/** Drops closed stretches older than `horizon` ms: nothing that old is kept anyway. */
export function prune(rules: RecordingRules, now: number, horizon: number): RecordingRules {
  const keep = (s: ScopeRules) => {
    s.paused = s.paused.filter(([, to]) => to === null || to > now - horizon);
  };
  const next = structuredClone(rules);
  keep(next.all);
  for (const s of Object.values(next.hosts)) keep(s);
  return next;
}

/**
 * The rules for one host in the form the fold script reads (a Redis hash):
 * `paused` as "from-to,from-" (all hosts' stretches and the host's own), and
 * `wiped_before`.
 */
export function foldForm(
  rules: RecordingRules,
  host: string | null,
): { paused: string; wiped_before: string } {
  const own = host === null ? { paused: [], wipedBefore: 0 } : scope(rules, host);
  const stretches = [...rules.all.paused, ...own.paused].map(([from, to]) => `${from}-${to ?? ''}`);
  return {
    paused: stretches.join(','),
    wiped_before: String(Math.max(rules.all.wipedBefore, own.wipedBefore)),
  };
}

/** Whether history keeps a sample taken at `time`, judged by the rules in the fold's form. */
export function isRecordedIn(
  form: { paused: string; wiped_before: string },
  time: number,
): boolean {
  if (time < Number(form.wiped_before)) return false;
  for (const stretch of form.paused.split(',')) {
    const dash = stretch.indexOf('-');
    if (dash <= 0) continue;
    const to = stretch.slice(dash + 1);
    if (time >= Number(stretch.slice(0, dash)) && (to === '' || time < Number(to))) return false;
  }
  return true;
}

export function parseRules(text: string): RecordingRules {
  const raw = JSON.parse(text) as Partial<RecordingRules>;
  return { all: raw.all ?? { paused: [], wipedBefore: 0 }, hosts: raw.hosts ?? {} };
}

/**
 * Writes the copies of the rules the fold reads: all hosts' and each given
 * host's (which already includes all hosts' stretches).
 */
export async function copyRulesToRedis(
  redis: RedisClient,
  rules: RecordingRules,
  hosts: Iterable<string>,
): Promise<void> {
  await Promise.all([
    redis.hset(keys.recordingAll, foldForm(rules, null)),
    ...[...hosts].map((h) => redis.hset(keys.recording(h), foldForm(rules, h))),
  ]);
}
