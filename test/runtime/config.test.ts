import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadEnv, Settings } from '../../deploy/runtime/config.ts';

describe('settings', () => {
  it('reads .env and lets the real environment win', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loadstar-env-'));
    writeFileSync(join(dir, '.env'), 'INTERVAL=2\nHOST=from-file\n# a comment\n');
    const env = loadEnv(join(dir, '.env'), { HOST: 'from-env' });
    expect(env.INTERVAL).to.equal('2');
    expect(env.HOST).to.equal('from-env');
  });

  it('treats a missing .env as empty', () => {
    expect(loadEnv('/nonexistent/.env', { A: '1' })).to.deep.equal({ A: '1' });
  });

  it('parses durations, sizes, numbers and URLs with defaults', () => {
    const s = new Settings({ D: '15m', Z: '64KiB', N: '0.5', U: 'http://127.0.0.1:1/x' });
    expect(s.duration('D', '1s')).to.equal(900_000);
    expect(s.duration('MISSING', '24h')).to.equal(86_400_000);
    expect(s.size('Z', '1MB')).to.equal(65_536);
    expect(s.number('N', 5, { min: 0.05 })).to.equal(0.5);
    expect(s.url('U', 'http://x/', ['http:']).port).to.equal('1');
    expect(s.urls('L', 'nats://a:1, nats://b:2', ['nats:']).map((u) => u.host)).to.deep.equal([
      'a:1',
      'b:2',
    ]);
    expect(s.hostPort('G', '127.0.0.1:50051')).to.deep.equal({ host: '127.0.0.1', port: 50051 });
  });

  for (const [name, value, call, words] of [
    ['INTERVAL', 'fast', (s: Settings) => s.number('INTERVAL', 5), "'fast' is not a number"],
    ['INTERVAL', '0', (s: Settings) => s.number('INTERVAL', 5, { min: 0.05 }), 'below the minimum'],
    [
      'RECEIVER_URL',
      'localhost:8090',
      (s: Settings) => s.url('RECEIVER_URL', 'http://x/', ['http:']),
      'must start with http://',
    ],
    [
      'RECEIVER_URL',
      'not a url',
      (s: Settings) => s.url('RECEIVER_URL', 'http://x/', ['http:']),
      'is not a URL',
    ],
    [
      'STREAM_MAX_AGE',
      '3 weeks',
      (s: Settings) => s.duration('STREAM_MAX_AGE', '1h'),
      'is not a duration',
    ],
    ['SPOOL_MAX_BYTES', 'lots', (s: Settings) => s.size('SPOOL_MAX_BYTES', '1MB'), 'is not a size'],
    [
      'GRPC_URL',
      '127.0.0.1',
      (s: Settings) => s.hostPort('GRPC_URL', '1.2.3.4:5'),
      'is not host:port',
    ],
  ] as const) {
    it(`names ${name} when '${value}' is wrong`, () => {
      const settings = new Settings({ [name]: value });
      expect(() => call(settings))
        .to.throw(ConfigError)
        .with.property('message')
        .that.includes(name)
        .and.includes(words);
    });
  }
});
