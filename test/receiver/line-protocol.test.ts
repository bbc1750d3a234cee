// InfluxDB line protocol: the parser on the InfluxDB documentation's own
// examples (escapes, several fields, every field type, comments), and the
// receiver's /write and /api/v2/write end to end: every precision, hosts from
// tags, partial writes, gzip, tokens as Telegraf sends them, retries, limits.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import type { RunningGateway } from '../../gateway/service.ts';
import { parseLines } from '../../receiver/line-protocol.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { gatewayOn, getJson, receiverOn, uniqueName } from '../harness/pipeline.ts';

describe('line protocol parser', () => {
  const one = (line: string, precision = 'ns') => {
    const { points, errors } = parseLines(line, precision);
    expect(errors).to.deep.equal([]);
    expect(points).to.have.length(1);
    return points[0]!;
  };

  it('reads the documentation’s first example: tags, a string field and a nanosecond timestamp', () => {
    const p = one(
      'myMeasurement,tag1=value1,tag2=value2 fieldKey="fieldValue" 1556813561098000000',
    );
    expect(p).to.deep.include({
      measurement: 'myMeasurement',
      tags: [
        ['tag1', 'value1'],
        ['tag2', 'value2'],
      ],
      fields: [['fieldKey', { type: 'string', value: 'fieldValue' }]],
      time: 1556813561098,
    });
  });

  it('reads an escaped space in a tag value and several fields of several types', () => {
    const p = one('home,room=Living\\ Room temp=21.1,hum=35.9,co=0i 1641024000', 's');
    expect(p.tags).to.deep.equal([['room', 'Living Room']]);
    expect(p.fields).to.deep.equal([
      ['temp', { type: 'float', value: 21.1 }],
      ['hum', { type: 'float', value: 35.9 }],
      ['co', { type: 'integer', value: 0 }],
    ]);
    expect(p.time).to.equal(1_641_024_000_000);
  });

  it('reads the documentation’s special characters example', () => {
    const p = one(
      '"measurement\\ with\\ quo⚡️es\\ and\\ emoji",tag\\ key\\ with\\ sp🚀ces=tag\\,value\\,with"commas" field_k\\ey="string field value, only \\" need be esc🍭ped"',
    );
    expect(p.measurement).to.equal('"measurement with quo⚡️es and emoji"');
    expect(p.tags).to.deep.equal([['tag key with sp🚀ces', 'tag,value,with"commas"']]);
    expect(p.fields).to.deep.equal([
      ['field_k\\ey', { type: 'string', value: 'string field value, only " need be esc🍭ped' }],
    ]);
    expect(p.time).to.equal(undefined);
  });

  it('reads every field type', () => {
    const types: [string, object][] = [
      ['fieldKey=1.0', { type: 'float', value: 1 }],
      ['fieldKey=1', { type: 'float', value: 1 }],
      ['fieldKey=-1.234456e+78', { type: 'float', value: -1.234456e78 }],
      ['fieldKey=1i', { type: 'integer', value: 1 }],
      ['fieldKey=-12i', { type: 'integer', value: -12 }],
      ['fieldKey=12485903u', { type: 'unsigned', value: 12485903 }],
      ['fieldKey="this is a string"', { type: 'string', value: 'this is a string' }],
      ['fieldKey=true', { type: 'boolean', value: true }],
      ['fieldKey=F', { type: 'boolean', value: false }],
    ];
    for (const [field, value] of types)
      expect(one(`myMeasurement ${field}`).fields, field).to.deep.equal([['fieldKey', value]]);
  });

  it('takes a backslash as written unless it escapes, and two as one', () => {
    expect(one('my\\Measurement fieldKey="string value"').measurement).to.equal('my\\Measurement');
    expect(one('my\\\\Measurement fieldKey="string value"').measurement).to.equal(
      'my\\Measurement',
    );
  });

  it('turns each precision into epoch milliseconds, flooring what is finer', () => {
    const cases: [string, string, number][] = [
      ['1641024000123456789', 'ns', 1_641_024_000_123],
      ['1641024000123456789', 'n', 1_641_024_000_123],
      ['1641024000123456', 'us', 1_641_024_000_123],
      ['1641024000123456', 'u', 1_641_024_000_123],
      ['1641024000123', 'ms', 1_641_024_000_123],
      ['1641024000', 's', 1_641_024_000_000],
      ['27350400', 'm', 1_641_024_000_000],
      ['455840', 'h', 1_641_024_000_000],
      ['-1500000', 'ns', -2],
    ];
    for (const [stamp, precision, ms] of cases)
      expect(one(`m v=1 ${stamp}`, precision).time, `${stamp} ${precision}`).to.equal(ms);
  });

  it('skips comments and blank lines, counts lines across a string holding a newline', () => {
    const { points, errors } = parseLines(
      '# This is a comment\n\nm v=1\nm s="two\nlines" 1\n  \nm v=bad\nm v=3\r\n',
      'ns',
    );
    expect(points.map((p) => p.line)).to.deep.equal([3, 4, 8]);
    expect(points[1]!.fields).to.deep.equal([['s', { type: 'string', value: 'two\nlines' }]]);
    expect(errors).to.deep.equal([
      { line: 7, error: 'line 7: field "v": "bad" is not a number, boolean or string' },
    ]);
  });

  it('says what is wrong with a bad line, by number', () => {
    const bad: [string, string][] = [
      ['m', 'expected a space before the fields'],
      ['m,t v=1', 'tag "t" has no value'],
      ['m,t= v=1', 'empty tag key or value'],
      ['m,t=1,t=2 v=1', 'tag "t" appears twice'],
      ['m v', 'field "v" has no value'],
      ['m v=1 12x', 'timestamp "12x" is not an integer'],
      ['m v="open', 'unterminated string'],
      ['m v=-1u', 'unsigned -1u is negative'],
      ['m v=99999999999999999999i', 'is out of range'],
      ['m v=1e999', 'is not finite'],
      ['m v=1 99999999999999999999', 'is not an integer'],
    ];
    for (const [line, words] of bad) {
      const { points, errors } = parseLines(line, 'ns');
      expect(points, line).to.deep.equal([]);
      expect(errors[0]?.error, line).to.include(words);
      expect(errors[0]?.error).to.match(/^line 1: /);
    }
  });
});

describe('line protocol writes', function () {
  this.timeout(30_000);
  const TOKEN = randomBytes(18).toString('base64url');
  const BOUND = randomBytes(18).toString('base64url');
  const boundHost = uniqueName('bound');
  let receiver: RunningReceiver;
  let guarded: RunningReceiver;
  let gateway: RunningGateway;

  before(async () => {
    [receiver, guarded, gateway] = await Promise.all([
      receiverOn({ MAX_METRICS_PER_HOST: '20', MAX_BATCH_BYTES: '4096' }),
      receiverOn({ INGEST_TOKENS: `*:${TOKEN},${boundHost}:${BOUND}` }),
      gatewayOn(),
    ]);
  });
  after(async () => {
    await Promise.all([receiver?.stop(), guarded?.stop(), gateway?.stop()]);
  });

  const write = async (
    path: string,
    body: string | Buffer,
    headers: Record<string, string> = {},
    on = receiver,
  ) => {
    const res = await fetch(new URL(path, on.url), {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : new Uint8Array(body),
    });
    return { status: res.status, text: await res.text() };
  };
  /** Raw history through the gateway's own API: [time, value] of each point. */
  const points = async (host: string, metric: string, from: number, to: number) => {
    const res = await getJson(
      new URL(`api/v1/history?host=${host}&metric=${metric}&from=${from}&to=${to}`, gateway.url),
    );
    expect(res.status, res.text).to.equal(200);
    return (res.body.points as [number, number | null][]).filter(([, v]) => v !== null);
  };
  const promql = async (query: string) =>
    (await getJson(new URL(`api/v1/query?query=${encodeURIComponent(query)}`, gateway.url))).body;

  it('stores a point at its time in every precision, on both endpoints', async () => {
    const host = uniqueName('prec');
    const now = Date.now();
    // The same instant (a whole hour ago, so every precision can spell it) and the ms it becomes.
    const hour = Math.floor(now / 3_600_000) * 3_600_000 - 3_600_000;
    const exact = hour + 1234;
    const writes: [string, string, string, number][] = [
      ['/write', 'n', `${BigInt(exact) * 1_000_000n + 567_891n}`, exact],
      ['/write', 'u', `${BigInt(exact + 5) * 1000n + 1n}`, exact + 5],
      ['/write', 'ms', `${exact + 1}`, exact + 1],
      ['/write', 's', `${hour / 1000 + 2}`, hour + 2000],
      ['/write', 'm', `${hour / 60_000 + 3}`, hour + 180_000],
      ['/write', 'h', `${hour / 3_600_000}`, hour],
      ['/api/v2/write', 'ns', `${BigInt(exact + 10) * 1_000_000n}`, exact + 10],
      ['/api/v2/write', 'us', `${BigInt(exact + 11) * 1000n}`, exact + 11],
      ['/api/v2/write', 'ms', `${exact + 12}`, exact + 12],
      ['/api/v2/write', 's', `${hour / 1000 + 13}`, hour + 13_000],
    ];
    let value = 0;
    for (const [path, precision, stamp] of writes) {
      value++;
      const res = await write(
        `${path}?precision=${precision}&db=telegraf&bucket=b&org=o`,
        `weather,host=${host} temp=${value} ${stamp}`,
      );
      expect(res.status, `${path} ${precision}: ${res.text}`).to.equal(204);
    }
    const stored = await points(host, 'weather_temp', hour - 1000, hour + 3_600_000);
    const expected = writes
      .map(([, , , time], i): [number, number] => [time, i + 1])
      .sort(([a], [b]) => a - b);
    expect(stored).to.deep.equal(expected);
  });

  it('names metrics as Telegraf’s Prometheus output does, tags as labels, the host tag as host', async () => {
    const host = uniqueName('tele');
    const t = Date.now() - 5_000;
    const body = [
      `cpu,cpu=cpu0,host=${host} usage_idle=99.5,usage_user=0.25 ${t}`,
      `cpu,cpu=cpu1,host=${host} usage_idle=97,usage_user=2 ${t}`,
      `home,host=${host},room=Living\\ Room temp=21.1,co=7i,alarm=true,note="fine" ${t}`,
      `uptime,host=${host} value=3600u ${t}`,
    ].join('\n');
    expect((await write('/api/v2/write?precision=ms&bucket=b', body)).status).to.equal(204);
    const answer = await promql(`{host="${host}"}`);
    const got = (
      answer.data.result as { metric: Record<string, string>; value: [number, string] }[]
    )
      .map((s) => [s.metric, Number(s.value[1])])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(got).to.deep.equal(
      [
        [{ __name__: 'cpu_usage_idle', cpu: 'cpu0', host }, 99.5],
        [{ __name__: 'cpu_usage_idle', cpu: 'cpu1', host }, 97],
        [{ __name__: 'cpu_usage_user', cpu: 'cpu0', host }, 0.25],
        [{ __name__: 'cpu_usage_user', cpu: 'cpu1', host }, 2],
        [{ __name__: 'home_alarm', host, room: 'Living Room' }, 1],
        [{ __name__: 'home_co', host, room: 'Living Room' }, 7],
        [{ __name__: 'home_temp', host, room: 'Living Room' }, 21.1],
        [{ __name__: 'uptime', host }, 3600],
      ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
    // Under loadstar's own names, as the README's table spells them.
    const metrics = await getJson(new URL(`api/v1/metrics?host=${host}`, gateway.url));
    expect(metrics.body.metrics).to.include.members([
      'cpu_usage_idle.cpu-cpu0',
      'home_temp.room-Living:20Room',
      'uptime',
    ]);
    // The string field is not stored, and is counted.
    const scrape = await (await fetch(new URL('/metrics', receiver.url))).text();
    expect(scrape).to.match(
      /loadstar_written_points_skipped_total\{format="line_protocol",reason="string"[^}]*\} [1-9]/,
    );
  });

  it('takes the host from Loadstar-Host when the line has no host tag', async () => {
    const host = uniqueName('hdr');
    const t = Date.now() - 1000;
    const res = await write('/write?precision=ms', `disk used=42 ${t}`, { 'Loadstar-Host': host });
    expect(res.status, res.text).to.equal(204);
    expect(await points(host, 'disk_used', t - 1, t + 1)).to.deep.equal([[t, 42]]);
  });

  it('stores the good lines of a partly bad write and names the bad ones (400)', async () => {
    const host = uniqueName('part');
    const t = Date.now() - 1000;
    const res = await write(
      '/write?precision=ms',
      `m,host=${host} a=1 ${t}\nm,host=${host} b=oops ${t}\nm,host=${host} c=3 ${t}`,
    );
    expect(res.status).to.equal(400);
    expect(JSON.parse(res.text).error).to.equal(
      '1 of 3 was refused, the rest is stored; first: line 2: field "b": "oops" is not a number, boolean or string',
    );
    expect(await points(host, 'm_a', t - 1, t + 1)).to.deep.equal([[t, 1]]);
    expect(await points(host, 'm_c', t - 1, t + 1)).to.deep.equal([[t, 3]]);
  });

  it('stores a retried write once', async () => {
    const host = uniqueName('again');
    const t = Date.now() - 2000;
    const body = `m,host=${host} v=1 ${t}\nm,host=${host} v=2 ${t + 1000}`;
    for (let i = 0; i < 3; i++)
      expect((await write('/write?precision=ms', body)).status).to.equal(204);
    const hosts = await getJson(new URL('api/v1/hosts', gateway.url));
    const info = hosts.body.hosts.find((h: { host: string }) => h.host === host);
    expect(info.samples).to.equal(2);
    expect(await points(host, 'm_v', t - 1, t + 1001)).to.deep.equal([
      [t, 1],
      [t + 1000, 2],
    ]);
  });

  it('reads a gzip body, as Telegraf sends by default', async () => {
    const host = uniqueName('gz');
    const t = Date.now() - 1000;
    const res = await write('/api/v2/write?precision=ms', gzipSync(`m,host=${host} v=5 ${t}`), {
      'Content-Encoding': 'gzip',
    });
    expect(res.status, res.text).to.equal(204);
    expect(await points(host, 'm_v', t - 1, t + 1)).to.deep.equal([[t, 5]]);
  });

  it('refuses what it cannot store with a 4xx saying why', async () => {
    const host = uniqueName('bad');
    const t = Date.now();
    const cases: [string, string | Buffer, Record<string, string>, number, string][] = [
      [
        '/api/v2/write?precision=m',
        `m,host=${host} v=1`,
        {},
        400,
        "precision' must be one of ns, us, ms, s",
      ],
      ['/write?precision=d', `m,host=${host} v=1`, {}, 400, "precision' must be one of"],
      ['/write', '', {}, 400, 'body holds no line protocol points'],
      [
        '/write',
        'm v=1',
        { 'Content-Encoding': 'br' },
        415,
        'Content-Encoding br is not supported',
      ],
      ['/write', Buffer.from([0x6d, 0x20, 0x76, 0x3d, 0xff]), {}, 400, 'body is not valid UTF-8'],
      [
        '/write',
        `m,host=${host} v=${'1'.repeat(5000)}`,
        {},
        413,
        'larger than the limit of 4096 bytes',
      ],
      [
        '/write',
        gzipSync(`m,host=${host} v=${'1'.repeat(9000)}`),
        { 'Content-Encoding': 'gzip' },
        413,
        'gzip body unpacks to more than 4096 bytes',
      ],
      [
        '/write?precision=ms',
        `m,host=${host} v=1 ${t - 2 * 86_400_000}`,
        {},
        422,
        'older than SAMPLE_MAX_AGE',
      ],
      [
        '/write?precision=ms',
        `m,host=${host} v=1 ${t + 3_600_000}`,
        {},
        400,
        "ahead of the receiver's clock",
      ],
      ['/write', 'm,host=web\\ 01 v=1', {}, 400, "tag host 'web 01' is not a host name"],
      ['/write', `m,host=${host},a-b=1,a_b=2 v=1`, {}, 400, 'both become label a_b'],
    ];
    for (const [path, body, headers, status, words] of cases) {
      const res = await write(path, body, headers);
      expect(res.status, `${path}: ${res.text}`).to.equal(status);
      expect(JSON.parse(res.text).error, path).to.include(words);
    }
  });

  it('refuses new metrics past MAX_METRICS_PER_HOST with 429, keeping the ones it has', async () => {
    const host = uniqueName('many');
    const t = Date.now() - 1000;
    const fields = Array.from({ length: 15 }, (_, i) => `f${i}=${i}`).join(',');
    expect((await write('/write?precision=ms', `m,host=${host} ${fields} ${t}`)).status).to.equal(
      204,
    );
    const more = Array.from({ length: 10 }, (_, i) => `g${i}=${i}`).join(',');
    const res = await write('/write?precision=ms', `m,host=${host} ${more} ${t + 1}`);
    expect(res.status).to.equal(429);
    expect(JSON.parse(res.text).error).to.include('MAX_METRICS_PER_HOST');
    expect((await write('/write?precision=ms', `m,host=${host} f1=100 ${t + 2}`)).status).to.equal(
      204,
    );
  });

  it('takes the ingest token as InfluxDB clients send it, and holds a bound token to its host', async () => {
    const t = Date.now() - 1000;
    const other = uniqueName('other');
    const body = (host: string) => `m,host=${host} v=1 ${t}`;
    const basic = (password: string) =>
      `Basic ${Buffer.from(`telegraf:${password}`).toString('base64')}`;
    const cases: [string, Record<string, string>, string, number][] = [
      ['/api/v2/write?precision=ms', {}, other, 401],
      ['/api/v2/write?precision=ms', { Authorization: 'Token nope-nope-nope-nope' }, other, 401],
      ['/api/v2/write?precision=ms', { Authorization: `Token ${TOKEN}` }, other, 204],
      ['/write?precision=ms', { Authorization: basic(TOKEN) }, other, 204],
      [`/write?precision=ms&u=telegraf&p=${TOKEN}`, {}, other, 204],
      ['/write?precision=ms', { Authorization: `Bearer ${TOKEN}` }, other, 204],
      ['/write?precision=ms', { Authorization: `Bearer ${BOUND}` }, boundHost, 204],
      ['/write?precision=ms', { Authorization: `Bearer ${BOUND}` }, other, 403],
    ];
    for (const [path, headers, host, status] of cases) {
      const res = await write(path, body(host), headers, guarded);
      expect(res.status, `${path} ${JSON.stringify(headers)}: ${res.text}`).to.equal(status);
      if (status === 401) expect(JSON.parse(res.text).error).to.include('ingest token');
    }
  });

  it('answers any body with a 204 or a 4xx saying why, and stays up (fast-check)', async () => {
    const piece = fc.constantFrom(
      'm',
      'cpu',
      ',',
      ' ',
      '=',
      '"',
      '\\',
      '\n',
      'host=fz',
      'v=1',
      'v=1i',
      'v=-1u',
      'v=t',
      'v="s"',
      't=a\\ b',
      '1700000000',
      `${Date.now()}`,
      '-',
      '#',
      'é',
      '\u0000',
      '999999999999999999999',
    );
    const body = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(''));
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom('/write', '/api/v2/write?precision=ms'),
        async (text, path) => {
          const res = await write(path, text);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 204) return;
          expect(res.status, `${path} ${JSON.stringify(text)}: ${res.text}`).to.be.within(400, 499);
          expect(JSON.parse(res.text).error).to.be.a('string').and.not.equal('');
        },
      ),
      { numRuns: 300, seed: 2017 },
    );
    expect(statuses.get(400), JSON.stringify([...statuses])).to.be.above(10);
    expect((await fetch(new URL('/readyz', receiver.url))).status).to.equal(200);
  });

  it('answers a write only once it is readable (read-your-writes)', async () => {
    const host = uniqueName('ryw');
    for (let i = 0; i < 5; i++) {
      const t = Date.now() - 100 + i;
      expect((await write('/write?precision=ms', `rw,host=${host} v=${i} ${t}`)).status).to.equal(
        204,
      );
      // At once, not eventually: no storage consumer runs in this test.
      const answer = await promql(`rw_v{host="${host}"}`);
      expect(answer.data.result[0].value[1]).to.equal(String(i));
    }
  });
});
