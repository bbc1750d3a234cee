// A remote HTTP endpoint answering a JSON list of machine records, as
// `[{"machine_ip": "10.0.0.5", "cpu": 71.2, "mem": 40.1}]`: one partial record
// per machine, through a field mapping. A record it cannot use is skipped and
// counted; an answer it cannot use at all fails the poll (the others go on).
import type { Log } from '../../deploy/runtime/log.ts';
import { checkMetricName, type Metrics, quoteName } from '../../proto/sample.ts';
import { fetchEndpoint, type RemoteSettings } from './endpoint.ts';
import type { Entry } from './file.ts';
import { fitHost, type PartialRecord, type Source } from './source.ts';

export interface HttpJsonSettings extends RemoteSettings {
  type: 'http-json';
  /** Where the list is in the answer (`data.machines`); unset: the answer is the list. */
  records?: string;
  /** The record's field that names its host (`machine_ip`). */
  hostField: string;
  /** Our metric name <- the record's field; unset: every numeric top-level field, by its name. */
  fields?: { metric: string; field: string }[];
}

export const HTTP_JSON_KEYS = ['records', 'host_field', 'fields'] as const;

/** Checks a metric name from the file, failing on the entry's field. */
function metricName(entry: Entry, key: string, name: string): string {
  try {
    return checkMetricName(name);
  } catch (err) {
    return entry.fail(key, (err as Error).message);
  }
}

export function readHttpJsonSettings(entry: Entry, common: RemoteSettings): HttpJsonSettings {
  const settings: HttpJsonSettings = {
    ...common,
    type: 'http-json',
    records: entry.optionalString('records'),
    hostField: entry.string('host_field'),
  };
  const raw = entry.value('fields');
  if (Array.isArray(raw)) {
    // `fields: [cpu, mem]`: the same name on both sides.
    settings.fields = raw.map((field: unknown, i) => {
      if (typeof field !== 'string') entry.fail(`fields[${i}]`, 'is not a field name');
      return { metric: metricName(entry, `fields[${i}]`, field), field };
    });
  } else if (raw !== undefined) {
    settings.fields = (entry.mapping('fields') ?? []).map(([metric, field]) => {
      if (typeof field !== 'string' || field === '')
        entry.fail(`fields.${metric}`, 'must name a field of the record');
      return { metric: metricName(entry, `fields.${metric}`, metric), field };
    });
  }
  if (settings.fields?.length === 0)
    entry.fail('fields', 'is empty: leave it out to take every numeric field');
  return settings;
}

/** The value at `path` in `value`: the key itself when the object has it, else the dotted path. */
function valueAt(value: unknown, path: string): unknown {
  const own = (object: unknown, key: string): unknown =>
    object !== null && typeof object === 'object' && Object.hasOwn(object, key)
      ? (object as Record<string, unknown>)[key]
      : undefined;
  const whole = own(value, path);
  if (whole !== undefined) return whole;
  let at: unknown = value;
  for (const key of path.split('.')) at = own(at, key);
  return at;
}

/** A number, or a string that is exactly one (APIs often quote their figures). */
function numberIn(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(value))
    return Number(value);
  return undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export class HttpJsonSource implements Source {
  readonly name: string;
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
  /** Records skipped since start (not an object, no host); values skipped (not a number). */
  readonly skipped = { records: 0, values: 0 };
  private lastProblem = '';

  constructor(
    private readonly settings: HttpJsonSettings,
    private readonly log: Log,
  ) {
    this.name = settings.name;
    this.intervalSeconds = settings.intervalSeconds;
    this.timeoutMs = settings.timeoutMs;
  }

  async collect(signal: AbortSignal): Promise<PartialRecord[]> {
    const text = await fetchEndpoint(this.settings, 'application/json', signal);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new Error(`answer is not JSON (${(err as Error).message.slice(0, 100)})`);
    }
    const where = this.settings.records;
    const list = where === undefined ? body : valueAt(body, where);
    if (!Array.isArray(list)) {
      throw new Error(
        where === undefined
          ? `answer is ${describe(body)}, not a list of records (set records: to where the list is)`
          : `answer has ${describe(list)} at ${quoteName(where)}, not a list of records`,
      );
    }
    const records: PartialRecord[] = [];
    let skippedRecords = 0;
    let skippedValues = 0;
    let problem = '';
    list.forEach((record: unknown, i) => {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        skippedRecords++;
        problem ||= `record ${i} is ${describe(record)}`;
        return;
      }
      const rawHost = valueAt(record, this.settings.hostField);
      const host =
        typeof rawHost === 'string'
          ? fitHost(rawHost.trim())
          : typeof rawHost === 'number' && Number.isFinite(rawHost)
            ? String(rawHost)
            : '';
      if (host === '') {
        skippedRecords++;
        problem ||= `record ${i} has ${describe(rawHost)} in ${quoteName(this.settings.hostField)}, not a host`;
        return;
      }
      const metrics: Metrics = {};
      if (this.settings.fields) {
        for (const { metric, field } of this.settings.fields) {
          const raw = valueAt(record, field);
          if (raw === undefined || raw === null) continue; // this record does not know it
          const value = numberIn(raw);
          if (value === undefined) {
            skippedValues++;
            problem ||= `record ${i} has ${describe(raw)} in ${quoteName(field)}, not a number`;
          } else metrics[metric] = value;
        }
      } else {
        for (const [field, raw] of Object.entries(record)) {
          if (field === this.settings.hostField) continue;
          if (typeof raw === 'number' && Number.isFinite(raw))
            metrics[field.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 128)] = raw;
        }
      }
      records.push({ host, metrics });
    });
    if (list.length > 0 && records.length === 0)
      throw new Error(`none of the ${list.length} records is usable: ${problem}`);
    this.skipped.records += skippedRecords;
    this.skipped.values += skippedValues;
    // Said once per kind of trouble, not on every poll of an endpoint that is always a bit off.
    if (problem && problem !== this.lastProblem) {
      this.log.warn('source answered records it cannot use; skipped', {
        source: this.name,
        records: skippedRecords,
        values: skippedValues,
        first: problem,
      });
    }
    this.lastProblem = problem;
    return records;
  }
}
