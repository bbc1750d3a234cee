// Where each incident's notifications go: the receivers (from the ALERT_*_URLS
// settings and the `receivers:` of RULES_FILE) and the routes that pick them
// (the `routes:` of RULES_FILE: match on severity, hosts and rule). Parsed into
// typed values at start and at each reload; errors name the entry and field.
import { createHash } from 'node:crypto';
import { DURATION_FORMS, parseDuration } from '../../deploy/runtime/config.ts';
import {
  Entry,
  FileError,
  type FilePlace,
  isMapping,
} from '../../deploy/runtime/structured-file.ts';
import type { Incident } from '../../proto/incident.ts';
import { namePattern } from '../../proto/pattern.ts';
import { RECEIVER_NAME, RECEIVER_TYPES, type ReceiverType } from '../../proto/receivers.ts';
import { type HostSelector, hostSelected, parseHosts } from '../rules/rules.ts';

export interface ReceiverSpec {
  name: string;
  type: ReceiverType;
  url: URL;
  /** Extra request headers (a webhook's token), `${NAME}` already replaced by the setting NAME. */
  headers: Record<string, string>;
  from: 'settings' | 'file';
}

export interface Route {
  receivers: string[];
  /** Any of these severities; none: every severity. */
  severities: string[] | null;
  hosts: HostSelector;
  /** The rule's name (exact, glob or /regex/); null: every rule. */
  rule: { text: string; pattern: RegExp } | null;
  /** A reminder while the incident stays open, unacknowledged and unsilenced; null: none. */
  remindEveryMs: number | null;
}

export interface Routing {
  receivers: ReceiverSpec[];
  routes: Route[];
}

/** The receivers of the ALERT_*_URLS settings: each gets every incident (one catch-all route). */
export interface SettingsReceivers {
  webhook: URL[];
  slack: URL[];
  alertmanager: URL[];
  /** ALERT_REMIND_EVERY, for these receivers. */
  remindEveryMs: number | null;
}

/**
 * The name of a receiver from the settings: its type and a digest of its URL,
 * so that reordering or extending a list keeps each URL's name, and with it
 * its queue of pending deliveries and its counters.
 */
export function settingsReceiverName(type: ReceiverType, url: URL): string {
  return `${type}-${createHash('sha256').update(url.href).digest('hex').slice(0, 6)}`;
}

/** Receivers or routes refused: names the entry, the field and, for a file read from disk, its line. */
export class RoutingError extends FileError {
  constructor(message: string, place?: FilePlace) {
    super(message, place);
    this.name = 'RoutingError';
  }
}

export interface Target {
  receiver: ReceiverSpec;
  remindEveryMs: number | null;
}

const RECEIVER_FIELDS = new Set(['name', 'type', 'url', 'headers']);
const ROUTE_FIELDS = new Set(['receivers', 'severity', 'hosts', 'rule', 'remind_every']);

/** The receivers and routes in force: the settings' receivers, then the file's. */
export function parseRouting(
  source: unknown,
  settings: SettingsReceivers,
  env: Readonly<Record<string, string | undefined>>,
): Routing {
  const receivers: ReceiverSpec[] = [];
  const routes: Route[] = [];
  for (const type of RECEIVER_TYPES) {
    for (const url of settings[type]) {
      const name = settingsReceiverName(type, url);
      // The same URL listed twice is one receiver.
      if (!receivers.some((r) => r.name === name))
        receivers.push({ name, type, url, headers: {}, from: 'settings' });
    }
  }
  if (receivers.length > 0)
    routes.push({
      receivers: receivers.map((r) => r.name),
      severities: null,
      hosts: { kind: 'all' },
      rule: null,
      remindEveryMs: settings.remindEveryMs,
    });

  const file = (source && typeof source === 'object' ? source : {}) as Record<string, unknown>;
  const fileReceivers = file.receivers ?? [];
  const fileRoutes = file.routes ?? [];
  if (!Array.isArray(fileReceivers))
    throw new RoutingError('"receivers:" must be a list of receivers');
  if (!Array.isArray(fileRoutes)) throw new RoutingError('"routes:" must be a list of routes');

  fileReceivers.forEach((raw, index) => {
    const where = `receivers[${index}]${isMapping(raw) && typeof raw.name === 'string' ? ` '${raw.name}'` : ''}`;
    if (!isMapping(raw)) throw new RoutingError(`${where}: is not a mapping of fields`);
    const entry = new Entry(raw, where, { error: RoutingError });
    const fail = (field: string, problem: string): never => entry.fail(field, problem);
    const r = raw;
    entry.checkKnown(RECEIVER_FIELDS, 'a receiver field');
    const name =
      typeof r.name === 'string' && RECEIVER_NAME.test(r.name)
        ? r.name
        : fail('name', 'must be 1 to 64 characters of [A-Za-z0-9_-]');
    if (receivers.some((other) => other.name === name))
      fail(
        'name',
        `'${name}' is taken (by an earlier receiver, or one of the ALERT_*_URLS settings)`,
      );
    const type = RECEIVER_TYPES.includes(r.type as ReceiverType)
      ? (r.type as ReceiverType)
      : fail('type', `must be ${RECEIVER_TYPES.join(', ')}`);
    let url: URL;
    try {
      url = new URL(String(r.url));
    } catch {
      url = fail('url', 'must be an http:// or https:// URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      fail('url', 'must be an http:// or https:// URL');
    const headers: Record<string, string> = {};
    if (r.headers !== undefined) {
      if (!r.headers || typeof r.headers !== 'object' || Array.isArray(r.headers))
        fail('headers', 'must be a mapping of header name to value');
      for (const [header, value] of Object.entries(r.headers as object)) {
        if (!/^[A-Za-z0-9-]{1,64}$/.test(header) || typeof value !== 'string')
          fail('headers', `has '${header}', not a header name with a text value`);
        headers[header] = (value as string).replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, key) => {
          const setting = env[key];
          return setting === undefined
            ? fail('headers', `names the setting ${key}, which is not set`)
            : setting;
        });
      }
    }
    receivers.push({ name, type, url, headers, from: 'file' });
  });

  fileRoutes.forEach((raw, index) => {
    const where = `routes[${index}]`;
    if (!isMapping(raw)) throw new RoutingError(`${where}: is not a mapping of fields`);
    const entry = new Entry(raw, where, { error: RoutingError });
    const fail = (field: string, problem: string): never => entry.fail(field, problem);
    const r = raw;
    entry.checkKnown(ROUTE_FIELDS, 'a route field');
    const names = typeof r.receivers === 'string' ? [r.receivers] : r.receivers;
    if (!Array.isArray(names) || names.length === 0)
      fail('receivers', 'must name one or more receivers');
    for (const name of names as unknown[])
      if (!receivers.some((rec) => rec.name === name))
        fail('receivers', `names '${String(name)}', which is not a receiver`);
    let severities: string[] | null = null;
    if (r.severity !== undefined) {
      const list = typeof r.severity === 'string' ? [r.severity] : r.severity;
      if (
        !Array.isArray(list) ||
        list.length === 0 ||
        list.some((s) => typeof s !== 'string' || !/^[a-z]{1,20}$/.test(s))
      )
        fail('severity', 'must be a severity (as critical) or a list of them');
      severities = list as string[];
    }
    let rule: Route['rule'] = null;
    if (r.rule !== undefined) {
      if (typeof r.rule !== 'string' || r.rule === '')
        fail('rule', 'must be a rule name or pattern');
      try {
        rule = { text: r.rule as string, pattern: namePattern(r.rule as string) };
      } catch {
        fail('rule', `'${String(r.rule)}' is not a valid pattern`);
      }
    }
    const remindEveryMs =
      r.remind_every === undefined
        ? null
        : (parseDuration(r.remind_every) ??
          fail('remind_every', `must be a duration: ${DURATION_FORMS}`));
    if (remindEveryMs !== null && remindEveryMs < 1_000)
      fail('remind_every', 'must be at least 1s');
    routes.push({
      receivers: names as string[],
      severities,
      hosts: parseHosts(r.hosts, fail),
      rule,
      remindEveryMs,
    });
  });
  return { receivers, routes };
}

export function routeMatches(route: Route, incident: Incident): boolean {
  return (
    (route.severities === null || route.severities.includes(incident.severity)) &&
    hostSelected(route.hosts, incident.host) &&
    (route.rule === null || route.rule.pattern.test(incident.rule))
  );
}

/**
 * The receivers an incident goes to: every receiver of every route that
 * matches, once, with the shortest reminder interval those routes ask for.
 */
export function targetsOf(routing: Routing, incident: Incident): Target[] {
  const byName = new Map<string, Target>();
  for (const route of routing.routes) {
    if (!routeMatches(route, incident)) continue;
    for (const name of route.receivers) {
      const receiver = routing.receivers.find((r) => r.name === name)!;
      const known = byName.get(name);
      const remind = [known?.remindEveryMs, route.remindEveryMs].filter(
        (ms): ms is number => typeof ms === 'number',
      );
      byName.set(name, {
        receiver,
        remindEveryMs: remind.length > 0 ? Math.min(...remind) : null,
      });
    }
  }
  return [...byName.values()];
}
