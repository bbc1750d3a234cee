import { expect } from 'chai';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import { collectSamples, SourceFailureCounts } from '../../producer/collect.ts';
import type { HttpJsonSource } from '../../producer/sources/http-json.ts';
import type { PartialRecord } from '../../producer/sources/source.ts';
import { SampleIds } from '../../proto/sample.ts';
import { freePort } from '../harness/servers.ts';
import { type EndpointServer, sourcesFrom, startEndpointServer } from './remote.ts';

const MACHINES = [
  { machine_ip: '10.0.0.5', cpu: 71.2, mem: 40.1, disk: 63.0, os: 'debian', rack: 4 },
  { machine_ip: '10.0.0.6', cpu: 12.5, mem: '55.5', disk: 20.0, os: 'debian', rack: 4 },
  { machine_ip: 'db 01', cpu: 3.0, mem: 80.0, os: 'alpine' },
];

/** What a poll returned, with metrics as plain objects for deep comparison. */
const plain = (records: PartialRecord[]) => records.map((r) => ({ host: r.host, ...r.metrics }));

describe('http-json source', () => {
  let server: EndpointServer;
  before(async () => {
    server = await startEndpointServer({ body: JSON.stringify(MACHINES) }, '/api/machines');
  });
  after(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
  });

  const source = (entry: object, env = {}) =>
    sourcesFrom([{ name: 'inventory', type: 'http-json', url: server.url, ...entry }], {
      env,
    })[0] as HttpJsonSource;

  it('reports one partial record per machine through the field mapping, quoted numbers included', async () => {
    server.answer = { body: JSON.stringify(MACHINES) };
    const records = await source({
      host_field: 'machine_ip',
      fields: { cpu: 'cpu', 'mem.used': 'mem', disk: 'disk' },
    }).collect(AbortSignal.timeout(2_000));
    expect(plain(records)).to.deep.equal([
      { host: '10.0.0.5', cpu: 71.2, 'mem.used': 40.1, disk: 63 },
      { host: '10.0.0.6', cpu: 12.5, 'mem.used': 55.5, disk: 20 },
      // A host name is made to fit; a field the record does not have is simply absent.
      { host: 'db_01', cpu: 3, 'mem.used': 80 },
    ]);
  });

  it('finds records nested under a key and fields by dotted path', async () => {
    server.answer = {
      body: JSON.stringify({
        status: 'ok',
        data: {
          machines: [
            { id: { ip: '10.1.0.1' }, stats: { cpu: 5, gpu: { util: 90 } } },
            { id: { ip: '10.1.0.2' }, stats: { cpu: 6, gpu: { util: 10 } } },
          ],
        },
      }),
    };
    const records = await source({
      records: 'data.machines',
      host_field: 'id.ip',
      fields: { cpu: 'stats.cpu', gpu: 'stats.gpu.util' },
    }).collect(AbortSignal.timeout(2_000));
    expect(plain(records)).to.deep.equal([
      { host: '10.1.0.1', cpu: 5, gpu: 90 },
      { host: '10.1.0.2', cpu: 6, gpu: 10 },
    ]);
  });

  it('takes every numeric top-level field by its own name when no fields are given', async () => {
    server.answer = {
      body: JSON.stringify([
        { host: 'web-01', cpu: 1.5, 'load 1': 0.25, up: true, os: 'debian', nic: { rx: 5 } },
      ]),
    };
    const records = await source({ host_field: 'host' }).collect(AbortSignal.timeout(2_000));
    expect(plain(records)).to.deep.equal([{ host: 'web-01', cpu: 1.5, load_1: 0.25 }]);
  });

  it('sends the configured headers, a token taken from a setting', async () => {
    server.answer = { body: JSON.stringify(MACHINES) };
    await source(
      {
        host_field: 'machine_ip',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${NAME} syntax, not JavaScript's.
        headers: { Authorization: 'Bearer ${INVENTORY_TOKEN}', 'X-Team': 'ops' },
      },
      { INVENTORY_TOKEN: 's3cret' },
    ).collect(AbortSignal.timeout(2_000));
    expect(server.requests).to.have.length(1);
    expect(server.requests[0]!.path).to.equal('/api/machines');
    expect(server.requests[0]!.headers.authorization).to.equal('Bearer s3cret');
    expect(server.requests[0]!.headers['x-team']).to.equal('ops');
    expect(server.requests[0]!.headers.accept).to.equal('application/json');
  });

  it('skips and counts records without a host and values that are not numbers, keeps the rest, and says so once', async () => {
    server.answer = {
      body: JSON.stringify([
        { machine_ip: '10.0.0.5', cpu: 10 },
        { cpu: 20 },
        'not a record',
        { machine_ip: '10.0.0.7', cpu: 'n/a', mem: 30 },
      ]),
    };
    const log = createMemoryLog();
    const [s] = sourcesFrom(
      [
        {
          name: 'inventory',
          type: 'http-json',
          url: server.url,
          host_field: 'machine_ip',
          fields: ['cpu', 'mem'],
        },
      ],
      { log },
    ) as [HttpJsonSource];
    const records = await s.collect(AbortSignal.timeout(2_000));
    expect(plain(records)).to.deep.equal([
      { host: '10.0.0.5', cpu: 10 },
      { host: '10.0.0.7', mem: 30 },
    ]);
    expect(s.skipped).to.deep.equal({ records: 2, values: 1 });
    await s.collect(AbortSignal.timeout(2_000));
    expect(s.skipped).to.deep.equal({ records: 4, values: 2 });
    const warnings = log.lines.filter((l) => l.includes('records it cannot use'));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include('source=inventory').and.include("has nothing in 'machine_ip'");
  });

  describe('a poll that fails', () => {
    const failing = async (entry: object = {}) => {
      const s = source({ host_field: 'machine_ip', ...entry });
      try {
        await s.collect(AbortSignal.timeout(2_000));
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('the poll succeeded');
    };

    it('on a 500', async () => {
      server.answer = { status: 500, body: '{"error":"database down"}' };
      expect(await failing()).to.equal('answered HTTP 500');
    });

    it('on a body that is not JSON', async () => {
      server.answer = { body: '<html><body>Bad Gateway</body></html>', contentType: 'text/html' };
      expect(await failing()).to.match(/^answer is not JSON/);
    });

    it('on JSON that is not a list, or has no list where records: says', async () => {
      server.answer = { body: '{"machines": {"count": 2}}' };
      expect(await failing()).to.equal(
        'answer is an object, not a list of records (set records: to where the list is)',
      );
      expect(await failing({ records: 'machines' })).to.equal(
        "answer has an object at 'machines', not a list of records",
      );
      expect(await failing({ records: 'data.machines' })).to.equal(
        "answer has nothing at 'data.machines', not a list of records",
      );
    });

    it('on a list of which no record is usable', async () => {
      server.answer = { body: '[{"name": "x"}, 7]' };
      expect(await failing()).to.equal(
        "none of the 2 records is usable: record 0 has nothing in 'machine_ip', not a host",
      );
    });

    it('on a refused connection', async () => {
      const [s] = sourcesFrom([
        {
          name: 'gone',
          type: 'http-json',
          url: `http://127.0.0.1:${await freePort()}/`,
          host_field: 'machine_ip',
        },
      ]);
      let message = '';
      await s!.collect(AbortSignal.timeout(2_000)).catch((err: Error) => {
        message = err.message;
      });
      expect(message).to.equal('request failed: ECONNREFUSED');
    });
  });

  it('gives up on a server that never answers at the source timeout, and counts it as the failure of that source', async () => {
    const silent = await startEndpointServer({ hang: true });
    try {
      const sources = sourcesFrom([
        {
          name: 'silent',
          type: 'http-json',
          url: silent.url,
          host_field: 'machine_ip',
          timeout: '200ms',
        },
      ]);
      const failures = new SourceFailureCounts();
      const log = createMemoryLog();
      // The agent-wide timeout is long: only the source's own timeout can end this.
      const samples = await collectSamples(
        sources,
        60_000,
        Date.now(),
        1,
        new SampleIds(),
        log,
        failures,
      );
      expect(samples).to.deep.equal([]);
      expect(silent.requests).to.have.length(1);
      expect(failures.snapshot()).to.deep.equal({ silent: 1 });
      expect(log.lines.join('')).to.match(/source failed source=silent error=.*timeout/);
    } finally {
      await silent.close();
    }
  });
});
