import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '../../deploy/runtime/config.ts';
import { readProducerConfig } from '../../producer/config.ts';
import { readSourcesFile } from '../../producer/sources/file.ts';
import { REPO, runScript } from '../harness/processes.ts';
import { writeSourcesFile } from './remote.ts';

const DEFAULTS = { intervalSeconds: 5, timeoutMs: 3_000, env: {} };

const INVENTORY = {
  name: 'inventory',
  type: 'http-json',
  url: 'https://cmdb.example.com/api/machines',
  host_field: 'machine_ip',
};
const NODE = {
  name: 'node-a',
  type: 'prometheus',
  url: 'http://10.0.0.5:9100/metrics',
  metrics: [{ series: 'node_load1', metric: 'load.1' }],
};

// biome-ignore lint/suspicious/noTemplateCurlyInString: the sources file's own ${NAME} syntax.
const UNSET = '${NOT_SET_ANYWHERE}';

/** The message a file with these entries is refused with. */
function refusal(entries: unknown, env = {}): string {
  try {
    readSourcesFile(writeSourcesFile(entries), { ...DEFAULTS, env });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the file was accepted');
}

describe('sources file', () => {
  it('reads YAML into typed sources, with the agent’s interval and timeout as defaults', () => {
    const path = writeSourcesFile({
      sources: [
        {
          ...INVENTORY,
          interval: 30,
          records: 'data.machines',
          fields: { cpu: 'cpu', mem: 'mem' },
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${NAME} syntax.
          headers: { Authorization: 'Bearer ${CMDB_TOKEN}' },
        },
        { ...NODE, timeout: '750ms', host_label: 'instance' },
      ],
    });
    const [inventory, node] = readSourcesFile(path, { ...DEFAULTS, env: { CMDB_TOKEN: 'tok' } });
    expect(inventory).to.deep.include({
      name: 'inventory',
      type: 'http-json',
      intervalSeconds: 30,
      timeoutMs: 3_000,
      headers: { Authorization: 'Bearer tok' },
      records: 'data.machines',
      hostField: 'machine_ip',
      fields: [
        { metric: 'cpu', field: 'cpu' },
        { metric: 'mem', field: 'mem' },
      ],
    });
    expect(inventory!.url.href).to.equal('https://cmdb.example.com/api/machines');
    expect(node).to.deep.include({
      name: 'node-a',
      type: 'prometheus',
      intervalSeconds: 5,
      timeoutMs: 750,
      headers: {},
      host: { label: 'instance' },
    });
  });

  it('reads the same from JSON, a bare list', () => {
    const path = writeSourcesFile([INVENTORY, NODE], 'json');
    expect(readSourcesFile(path, DEFAULTS).map((s) => [s.name, s.type])).to.deep.equal([
      ['inventory', 'http-json'],
      ['node-a', 'prometheus'],
    ]);
  });

  it('accepts deploy/sources.example.yaml as it ships', () => {
    const sources = readSourcesFile(join(REPO, 'deploy/sources.example.yaml'), {
      ...DEFAULTS,
      env: { CMDB_TOKEN: 'example' },
    });
    expect(sources.map((s) => s.type)).to.include.members(['http-json', 'prometheus']);
  });

  describe('refuses a bad entry, naming the source by index and name, and the field', () => {
    const cases: [string, unknown[], string][] = [
      [
        'an unknown type',
        [INVENTORY, { ...NODE, type: 'snmp' }],
        "sources[1] 'node-a': field 'type' is a string ('snmp'), expected one of http-json, prometheus",
      ],
      [
        'a missing url',
        [{ ...INVENTORY, url: undefined }],
        "sources[0] 'inventory': field 'url' is missing",
      ],
      [
        'a url that is not http',
        [{ ...INVENTORY, url: 'ftp://cmdb/machines' }],
        "sources[0] 'inventory': field 'url' 'ftp://cmdb/machines' must start with http:// or https://",
      ],
      [
        'a url with a password',
        [{ ...INVENTORY, url: 'https://u:p@cmdb/machines' }],
        "sources[0] 'inventory': field 'url' has a user or password in it",
      ],
      [
        'a misspelt field',
        [{ ...INVENTORY, intervall: 30 }],
        "sources[0] 'inventory': field 'intervall' is not a known field",
      ],
      [
        'an interval that is not a number of seconds',
        [{ ...INVENTORY, interval: 'often' }],
        "sources[0] 'inventory': field 'interval' is a string ('often'), expected seconds",
      ],
      [
        'a timeout out of range',
        [{ ...INVENTORY, timeout: 0 }],
        "sources[0] 'inventory': field 'timeout' 0 is not between 0.01 s and 300 s",
      ],
      [
        'a missing name',
        [INVENTORY, { ...NODE, name: undefined }],
        "sources[1]: field 'name' is missing",
      ],
      [
        'two sources with one name',
        [INVENTORY, { ...NODE, name: 'inventory' }],
        "sources[1] 'inventory': field 'name' 'inventory' is also sources[0]",
      ],
      [
        'a header whose setting is not set',
        [{ ...INVENTORY, headers: { Authorization: `Bearer ${UNSET}` } }],
        `sources[0] 'inventory': field 'headers.Authorization' refers to ${UNSET}, which is not set`,
      ],
      [
        'an http-json source without host_field',
        [{ ...INVENTORY, host_field: undefined }],
        "sources[0] 'inventory': field 'host_field' is missing",
      ],
      [
        'a bad metric name in fields',
        [{ ...INVENTORY, fields: { 'c p u': 'cpu' } }],
        "sources[0] 'inventory': field 'fields.c p u' metric name 'c p u' has characters outside",
      ],
      [
        'an unknown aggregate',
        [INVENTORY, { ...NODE, metrics: [{ series: 'x', metric: 'x', aggregate: 'mean' }] }],
        "sources[1] 'node-a': field 'metrics[0].aggregate' is a string ('mean'), expected one of sum, avg, min, max",
      ],
      [
        'a misspelt mapping field',
        [{ ...NODE, metrics: [NODE.metrics[0], { series: 'x', metric: 'y', scael: 2 }] }],
        "sources[0] 'node-a': field 'metrics[1].scael' is not a known field",
      ],
      [
        'a scale that is not a number',
        [{ ...NODE, metrics: [{ series: 'x', metric: 'y', scale: '-100' }] }],
        "sources[0] 'node-a': field 'metrics[0].scale' is a string ('-100'), expected a number",
      ],
      [
        'one metric mapped twice',
        [{ ...NODE, metrics: [NODE.metrics[0], { series: 'node_load5', metric: 'load.1' }] }],
        "sources[0] 'node-a': field 'metrics[1].metric' 'load.1' is mapped twice",
      ],
      [
        'a series name Prometheus cannot have',
        [{ ...NODE, metrics: [{ series: 'node-load1', metric: 'load.1' }] }],
        "sources[0] 'node-a': field 'metrics[0].series' 'node-load1' is not a Prometheus series name",
      ],
      [
        'labels mixing values and !values',
        [{ ...NODE, metrics: [{ series: 'x', metric: 'y', labels: { device: ['eth0', '!lo'] } }] }],
        "sources[0] 'node-a': field 'metrics[0].labels.device' mixes values and !values",
      ],
      [
        'both host and host_label',
        [{ ...NODE, host: 'web-01', host_label: 'instance' }],
        "sources[0] 'node-a': field 'host_label' and host are both set",
      ],
      [
        'a prometheus source without metrics',
        [{ ...NODE, metrics: [] }],
        "sources[0] 'node-a': field 'metrics' is empty",
      ],
      ['an entry that is not a mapping', [INVENTORY, 'node-a'], 'sources[1]: is a string'],
    ];
    for (const [what, entries, words] of cases) {
      it(what, () => {
        const message = refusal(entries);
        expect(message).to.include(`SOURCES_FILE: `).and.include(words);
        expect(message).to.not.include('\n');
      });
    }
  });

  it('refuses a file that is missing, not YAML, or not a list of sources', () => {
    expect(() => readSourcesFile('/nonexistent/sources.yaml', DEFAULTS)).to.throw(
      ConfigError,
      '/nonexistent/sources.yaml: cannot be read (ENOENT)',
    );
    const broken = writeSourcesFile([]);
    writeFileSync(broken, 'sources:\n  - name: a\n   type: [\n');
    expect(() => readSourcesFile(broken, DEFAULTS)).to.throw(ConfigError, 'is not valid YAML');
    expect(refusal({ machines: [] })).to.include(
      'is a mapping, expected a list of sources (or sources: followed by one)',
    );
  });

  it('is read with the other settings: LOCAL_SOURCE=false needs at least one source', () => {
    const config = readProducerConfig({
      SOURCES_FILE: writeSourcesFile([INVENTORY, NODE]),
      LOCAL_SOURCE: 'false',
      INTERVAL: '2',
      SOURCE_TIMEOUT: '1500ms',
    });
    expect(config.localSource).to.equal(false);
    expect(config.sources.map((s) => [s.name, s.intervalSeconds, s.timeoutMs])).to.deep.equal([
      ['inventory', 2, 1_500],
      ['node-a', 2, 1_500],
    ]);
    expect(readProducerConfig({}).localSource).to.equal(true);
    expect(readProducerConfig({}).sources).to.deep.equal([]);
  });

  describe('stops the producer at start', function () {
    this.timeout(30_000);

    const start = async (env: Record<string, string>) => {
      const proc = runScript('producer/main.ts', env);
      const status = await proc.exited;
      return { status, lines: proc.output().trim().split('\n') };
    };

    it('exits 2 with one line naming the source and the field', async () => {
      const path = writeSourcesFile({
        sources: [
          INVENTORY,
          { ...NODE, name: 'node-b', metrics: [{ series: 'x', metric: 'y', aggregate: 'mean' }] },
        ],
      });
      const { status, lines } = await start({ SOURCES_FILE: path });
      expect(status).to.equal(2);
      expect(lines).to.deep.equal([
        `loadstar producer: bad setting SOURCES_FILE: ${path}: sources[1] 'node-b': field 'metrics[0].aggregate' is a string ('mean'), expected one of sum, avg, min, max`,
      ]);
    });

    it('exits 2 with one line for a file that is not YAML', async () => {
      const path = writeSourcesFile([]);
      writeFileSync(path, '- name: a\n  url: "unterminated\n');
      const { status, lines } = await start({ SOURCES_FILE: path });
      expect(status).to.equal(2);
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(
        new RegExp(`^loadstar producer: bad setting SOURCES_FILE: ${path}: is not valid YAML`),
      );
    });

    it('exits 2 when LOCAL_SOURCE=false leaves nothing to collect', async () => {
      const { status, lines } = await start({ LOCAL_SOURCE: 'false' });
      expect(status).to.equal(2);
      expect(lines).to.deep.equal([
        'loadstar producer: bad setting LOCAL_SOURCE: is false and SOURCES_FILE names no source: the agent would collect nothing',
      ]);
    });
  });
});
