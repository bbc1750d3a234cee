// Prometheus remote_write: snappy blocks and protobuf messages both ways (a
// hand-made block with copies, round trips, hostile bytes), and POST
// /api/v1/write end to end: hosts from labels, names by the README's mapping,
// stale markers and histograms left out, retries stored once, tokens, limits.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import type { RunningGateway } from '../../gateway/service.ts';
import {
  decodeWriteRequest,
  encodeWriteRequest,
  ProtobufError,
  type WrittenSeries,
} from '../../receiver/remote-write.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { SnappyError, snappyCompress, snappyDecompress } from '../../receiver/snappy.ts';
import { gatewayOn, getJson, receiverOn, uniqueName } from '../harness/pipeline.ts';

describe('snappy blocks', () => {
  it('reads a block with a literal and an overlapping copy', () => {
    // 12 bytes: literal "abcd" (tag (4-1)<<2), then a 1-byte-offset copy of 8 bytes from 4 back.
    const block = Uint8Array.from([12, 0x0c, 0x61, 0x62, 0x63, 0x64, ((8 - 4) << 2) | 1, 4]);
    expect(snappyDecompress(block, 100).toString()).to.equal('abcdabcdabcd');
  });

  it('reads copies with two- and four-byte offsets and long literals', () => {
    const literal = Buffer.alloc(300, 'x');
    literal.write('start', 0);
    // literal of 300 (tag 61<<2, length-1 in two bytes), copy 10 from 300 back (2-byte offset), copy 5 from 310 back (4-byte offset).
    const block = Buffer.concat([
      Buffer.from([0xbb, 0x02]), // 315 as a varint
      Buffer.from([61 << 2, (300 - 1) & 0xff, (300 - 1) >> 8]),
      literal,
      Buffer.from([((10 - 1) << 2) | 2, 300 & 0xff, 300 >> 8]),
      Buffer.from([((5 - 1) << 2) | 3, 0x36, 0x01, 0, 0]),
    ]);
    const out = snappyDecompress(block, 1000);
    expect(out.length).to.equal(315);
    expect(out.subarray(300, 310).toString()).to.equal('startxxxxx');
    expect(out.subarray(310).toString()).to.equal('start');
  });

  it('reads back whatever it compresses (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }),
          fc
            .array(fc.constantFrom('node_cpu', '{', 'idle', '\x00\x01', 'aaaa'), { maxLength: 500 })
            .map((a) => Buffer.from(a.join(''))),
        ),
        (data) => {
          const block = snappyCompress(data);
          expect(snappyDecompress(block, data.length)).to.deep.equal(Buffer.from(data));
        },
      ),
      { numRuns: 500, seed: 4242 },
    );
    // Repetitive text really is compressed: copies, not only literals.
    expect(snappyCompress(Buffer.from('node_cpu_seconds_total'.repeat(50))).length).to.be.below(
      200,
    );
  });

  it('refuses broken and hostile blocks with a SnappyError, never reading past them', () => {
    const bad: [number[], string][] = [
      [[], 'ends inside its length'],
      [[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 'longer than 32 bits'],
      [[0xff, 0xff, 0xff, 0xff, 0x0f], 'more than the limit'],
      [[4, 0x0c, 0x61], 'literal runs past the end'],
      [[4, 0x00, 0x61, 0x05, 0x04], 'reaches before the start'],
      [[4, 0x00, 0x61, ((4 - 4) << 2) | 1, 0], 'reaches before the start'],
      [[2, 0x0c, 0x61, 0x62, 0x63, 0x64], 'holds more than it declares'],
      [[9, 0x0c, 0x61, 0x62, 0x63, 0x64], 'declares 9 bytes but holds 4'],
      [[4, 0x02], 'copy is cut short'],
    ];
    for (const [bytes, words] of bad)
      expect(() => snappyDecompress(Uint8Array.from(bytes), 1000), JSON.stringify(bytes)).to.throw(
        SnappyError,
        words,
      );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
        try {
          expect(snappyDecompress(garbage, 4096).length).to.be.at.most(4096);
        } catch (err) {
          expect(err).to.be.instanceOf(SnappyError);
        }
      }),
      { numRuns: 3000, seed: 77 },
    );
  });
});

describe('remote_write messages', () => {
  it('reads back what it writes: labels, values and timestamps, negative ones too', () => {
    const series: WrittenSeries[] = [
      {
        labels: [
          ['__name__', 'up'],
          ['job', 'prométheus'],
        ],
        samples: [
          { value: 1, timestamp: 1_700_000_000_123 },
          { value: -0.5, timestamp: -5 },
          { value: Number.NaN, timestamp: 0 },
          { value: Number.NaN, timestamp: 1, stale: true },
        ],
        histograms: 0,
      },
      { labels: [['__name__', 'empty']], samples: [], histograms: 0 },
    ];
    const back = decodeWriteRequest(encodeWriteRequest(series));
    expect(back.series.map((s) => s.labels)).to.deep.equal(series.map((s) => s.labels));
    expect(back.series[0]!.samples.slice(0, 2)).to.deep.equal(series[0]!.samples.slice(0, 2));
    expect(back.series[0]!.samples[2]!.value).to.be.NaN;
    expect(back.series[0]!.samples[2]!.stale).to.equal(undefined);
    expect(back.series[0]!.samples[3]).to.deep.include({ timestamp: 1, stale: true });
  });

  it('skips fields it does not know and counts histograms', () => {
    const known = encodeWriteRequest([
      { labels: [['__name__', 'up']], samples: [{ value: 1, timestamp: 7 }] },
    ]);
    // A metadata entry (field 3) before it, and a histogram (field 4) and a fixed32 (field 9) inside the series.
    const series = known.subarray(2);
    const extended = Buffer.concat([
      Buffer.from([(3 << 3) | 2, 2, 0x08, 0x01]),
      Buffer.from([(1 << 3) | 2, series.length + 4 + 5]),
      series,
      Buffer.from([(4 << 3) | 2, 2, 0x08, 0x01]),
      Buffer.from([(9 << 3) | 5, 1, 2, 3, 4]),
    ]);
    const back = decodeWriteRequest(extended);
    expect(back.series).to.deep.equal([
      { labels: [['__name__', 'up']], samples: [{ value: 1, timestamp: 7 }], histograms: 1 },
    ]);
  });

  it('refuses broken messages with a ProtobufError (fast-check on garbage)', () => {
    expect(() => decodeWriteRequest(Uint8Array.from([0x0a, 0x05, 0x0a]))).to.throw(
      ProtobufError,
      'runs past',
    );
    expect(() => decodeWriteRequest(Uint8Array.from([0x0b]))).to.throw(
      ProtobufError,
      'wire type 3',
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (garbage) => {
        try {
          decodeWriteRequest(garbage);
        } catch (err) {
          expect(err).to.be.instanceOf(ProtobufError);
        }
      }),
      { numRuns: 3000, seed: 78 },
    );
  });
});

describe('remote_write into the receiver', function () {
  this.timeout(30_000);
  const TOKEN = randomBytes(18).toString('base64url');
  let receiver: RunningReceiver;
  let guarded: RunningReceiver;
  let gateway: RunningGateway;

  before(async () => {
    [receiver, guarded, gateway] = await Promise.all([
      receiverOn({ MAX_BATCH_SAMPLES: '50' }),
      receiverOn({ INGEST_TOKENS: `*:${TOKEN}` }),
      gatewayOn(),
    ]);
  });
  after(async () => {
    await Promise.all([receiver?.stop(), guarded?.stop(), gateway?.stop()]);
  });

  type Series = Omit<WrittenSeries, 'histograms'>;
  const send = async (series: Series[], headers: Record<string, string> = {}, on = receiver) => {
    const res = await fetch(new URL('/api/v1/write', on.url), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-protobuf',
        'Content-Encoding': 'snappy',
        'X-Prometheus-Remote-Write-Version': '0.1.0',
        ...headers,
      },
      body: new Uint8Array(snappyCompress(encodeWriteRequest(series))),
    });
    return { status: res.status, text: await res.text() };
  };
  const points = async (host: string, metric: string, from: number, to: number) => {
    const res = await getJson(
      new URL(
        `api/v1/history?host=${host}&metric=${encodeURIComponent(metric)}&from=${from}&to=${to}`,
        gateway.url,
      ),
    );
    expect(res.status, res.text).to.equal(200);
    return (res.body.points as [number, number | null][]).filter(([, v]) => v !== null);
  };

  it('stores each series under the host of its host label, else its instance label', async () => {
    const host = uniqueName('rwh');
    const node = `${uniqueName('rwi')}:9100`;
    const t = Date.now() - 30_000;
    const res = await send([
      {
        labels: [
          ['__name__', 'node_cpu_seconds_total'],
          ['cpu', '0'],
          ['instance', node],
          ['job', 'node'],
          ['mode', 'idle'],
        ],
        samples: [
          { value: 100, timestamp: t },
          { value: 110.5, timestamp: t + 15_000 },
        ],
      },
      {
        labels: [
          ['__name__', 'load_1'],
          ['host', host],
          ['instance', 'x:1'],
        ],
        samples: [{ value: 0.75, timestamp: t }],
      },
    ]);
    expect(res.status, res.text).to.equal(204);
    expect(
      await points(node, 'node_cpu_seconds_total.cpu-0.job-node.mode-idle', t - 1, t + 15_001),
    ).to.deep.equal([
      [t, 100],
      [t + 15_000, 110.5],
    ]);
    // load_1 with an instance label besides its host: the instance is part of the metric.
    expect(await points(host, 'load_1.instance-x:3A1', t - 1, t + 1)).to.deep.equal([[t, 0.75]]);
    // And the query API reads it back as the series written.
    const answer = await getJson(
      new URL(
        `api/v1/query?query=${encodeURIComponent(`node_cpu_seconds_total{host="${node}"}`)}&time=${(t + 15_000) / 1000}`,
        gateway.url,
      ),
    );
    expect(answer.body.data.result).to.deep.equal([
      {
        metric: {
          __name__: 'node_cpu_seconds_total',
          cpu: '0',
          host: node,
          job: 'node',
          mode: 'idle',
        },
        value: [(t + 15_000) / 1000, '110.5'],
      },
    ]);
  });

  it('takes the host from Loadstar-Host for series with neither label, and the interval from Loadstar-Interval', async () => {
    const host = uniqueName('rwd');
    const t = Date.now() - 1000;
    const res = await send(
      [{ labels: [['__name__', 'up']], samples: [{ value: 1, timestamp: t }] }],
      {
        'Loadstar-Host': host,
        'Loadstar-Interval': '15',
      },
    );
    expect(res.status, res.text).to.equal(204);
    expect(await points(host, 'up', t - 1, t + 1)).to.deep.equal([[t, 1]]);
    const hosts = await getJson(new URL('api/v1/hosts', gateway.url));
    expect(hosts.body.hosts.find((h: { host: string }) => h.host === host).interval).to.equal(15);
  });

  it('leaves out stale markers, NaN and histograms, counting them', async () => {
    const host = uniqueName('rws');
    const t = Date.now() - 1000;
    const res = await send([
      {
        labels: [
          ['__name__', 'up'],
          ['host', host],
        ],
        samples: [
          { value: 1, timestamp: t - 1000 },
          { value: Number.NaN, timestamp: t, stale: true },
        ],
      },
      {
        labels: [
          ['__name__', 'ratio'],
          ['host', host],
        ],
        samples: [{ value: Number.NaN, timestamp: t }],
      },
    ]);
    expect(res.status, res.text).to.equal(204);
    expect(await points(host, 'up', t - 2000, t + 1)).to.deep.equal([[t - 1000, 1]]);
    const metrics = await getJson(new URL(`api/v1/metrics?host=${host}`, gateway.url));
    expect(metrics.body.metrics).to.deep.equal(['up']);
    const scrape = await (await fetch(new URL('/metrics', receiver.url))).text();
    expect(scrape).to.match(
      /loadstar_written_points_skipped_total\{format="remote_write",reason="stale_marker"[^}]*\} [1-9]/,
    );
    expect(scrape).to.match(
      /loadstar_written_points_skipped_total\{format="remote_write",reason="not_finite"[^}]*\} [1-9]/,
    );
  });

  it('stores a retried request once (Prometheus retries the same batch after a 5xx)', async () => {
    const host = uniqueName('rwr');
    const t = Date.now() - 5000;
    const batch: Series[] = [
      {
        labels: [
          ['__name__', 'a'],
          ['host', host],
        ],
        samples: [
          { value: 1, timestamp: t },
          { value: 2, timestamp: t + 1000 },
        ],
      },
      {
        labels: [
          ['__name__', 'b'],
          ['host', host],
        ],
        samples: [{ value: 3, timestamp: t }],
      },
    ];
    for (let i = 0; i < 3; i++) expect((await send(batch)).status).to.equal(204);
    const hosts = await getJson(new URL('api/v1/hosts', gateway.url));
    // One sample per host and time: a and b at t, a at t + 1 s.
    expect(hosts.body.hosts.find((h: { host: string }) => h.host === host).samples).to.equal(2);
    expect(await points(host, 'a', t - 1, t + 1001)).to.deep.equal([
      [t, 1],
      [t + 1000, 2],
    ]);
  });

  it('stores the series it can name and refuses the others by name (400)', async () => {
    const host = uniqueName('rwp');
    const t = Date.now() - 1000;
    const res = await send([
      {
        labels: [
          ['__name__', 'good'],
          ['host', host],
        ],
        samples: [{ value: 1, timestamp: t }],
      },
      {
        labels: [
          ['__name__', 'bad'],
          ['host', host],
          ['__meta_x', 'y'],
        ],
        samples: [{ value: 2, timestamp: t }],
      },
      {
        labels: [
          ['job', 'nameless'],
          ['host', host],
        ],
        samples: [{ value: 3, timestamp: t }],
      },
    ]);
    expect(res.status).to.equal(400);
    expect(JSON.parse(res.text).error).to.equal(
      `2 of 3 were refused, the rest is stored; first: series bad{host="${host}",__meta_x="y"}: label name "__meta_x" is reserved`,
    );
    expect(await points(host, 'good', t - 1, t + 1)).to.deep.equal([[t, 1]]);
  });

  it('refuses what is not a remote_write request with a 4xx saying why', async () => {
    const post = async (body: Buffer, headers: Record<string, string>) => {
      const res = await fetch(new URL('/api/v1/write', receiver.url), {
        method: 'POST',
        headers,
        body: new Uint8Array(body),
      });
      return { status: res.status, error: ((await res.json()) as { error: string }).error };
    };
    const proto = { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' };
    const cases: [Buffer, Record<string, string>, number, string][] = [
      [
        Buffer.from('x'),
        { 'Content-Type': 'application/x-protobuf' },
        415,
        'Content-Encoding (none) is not snappy',
      ],
      [
        Buffer.from('x'),
        { 'Content-Type': 'application/json', 'Content-Encoding': 'snappy' },
        415,
        'is not application/x-protobuf',
      ],
      [
        Buffer.from([5, 0x00]),
        proto,
        400,
        'body is not a remote_write request: snappy literal runs past',
      ],
      [
        snappyCompress(Buffer.from([0x0a, 0x09, 0x0a])),
        proto,
        400,
        'body is not a remote_write request: protobuf field runs past',
      ],
    ];
    for (const [body, headers, status, words] of cases) {
      const got = await post(body, headers);
      expect(got.status, got.error).to.equal(status);
      expect(got.error).to.include(words);
    }
    const many: Series[] = [
      {
        labels: [
          ['__name__', 'up'],
          ['host', uniqueName('rwm')],
        ],
        samples: Array.from({ length: 51 }, (_, i) => ({
          value: i,
          timestamp: Date.now() - 60_000 + i * 100,
        })),
      },
    ];
    const tooMany = await send(many);
    expect(tooMany.status).to.equal(413);
    expect(JSON.parse(tooMany.text).error).to.include('the limit is 50 (MAX_BATCH_SAMPLES)');
    const old = await send([
      {
        labels: [
          ['__name__', 'up'],
          ['host', uniqueName('rwo')],
        ],
        samples: [{ value: 1, timestamp: Date.now() - 3 * 86_400_000 }],
      },
    ]);
    expect(old.status).to.equal(422);
    expect(JSON.parse(old.text).error).to.include('older than SAMPLE_MAX_AGE');
  });

  it('answers any body with a 204 or a 4xx saying why, and stays up (fast-check)', async () => {
    const label = fc.tuple(
      fc.constantFrom(
        '__name__',
        'host',
        'instance',
        'job',
        '__meta',
        'loadstar_metric',
        'a-b',
        '',
      ),
      fc.string({ maxLength: 12 }),
    );
    const written = fc.array(
      fc.record({
        labels: fc.array(label, { maxLength: 4 }),
        samples: fc.array(
          fc.record({
            value: fc.double(),
            timestamp: fc.oneof(fc.constant(Date.now() - 1000), fc.integer(), fc.constant(-1)),
          }),
          { maxLength: 3 },
        ),
      }),
      { maxLength: 4 },
    );
    const body = fc.oneof(
      written.map((series) => snappyCompress(encodeWriteRequest(series))),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => snappyCompress(bytes)),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, async (bytes) => {
        const res = await fetch(new URL('/api/v1/write', receiver.url), {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' },
          body: new Uint8Array(bytes),
        });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 204) return;
        expect(res.status, text).to.be.within(400, 499);
        expect(JSON.parse(text).error).to.be.a('string').and.not.equal('');
      }),
      { numRuns: 300, seed: 2018 },
    );
    expect(statuses.get(204), JSON.stringify([...statuses])).to.be.above(10);
    expect(statuses.get(400), JSON.stringify([...statuses])).to.be.above(10);
    expect((await fetch(new URL('/readyz', receiver.url))).status).to.equal(200);
  });

  it('needs the ingest token as a bearer token when INGEST_TOKENS is set', async () => {
    const series: Series[] = [
      {
        labels: [
          ['__name__', 'up'],
          ['host', uniqueName('rwt')],
        ],
        samples: [{ value: 1, timestamp: Date.now() }],
      },
    ];
    expect((await send(series, {}, guarded)).status).to.equal(401);
    expect(
      (await send(series, { Authorization: 'Bearer wrong-wrong-wrong-wrong' }, guarded)).status,
    ).to.equal(401);
    expect((await send(series, { Authorization: `Bearer ${TOKEN}` }, guarded)).status).to.equal(
      204,
    );
  });
});
