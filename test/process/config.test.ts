import { expect } from 'chai';
import { runScript } from '../harness/processes.ts';

describe('a bad setting stops a service at start', function () {
  this.timeout(30_000);

  for (const [service, file, setting, value, words] of [
    [
      'receiver',
      'receiver/main.ts',
      'RECEIVER_URL',
      'localhost:8090/data',
      'must start with http://',
    ],
    ['consumer', 'receiver/store/main.ts', 'STORE_IN_FLIGHT', 'many', "'many' is not a number"],
    ['gateway', 'gateway/main.ts', 'GRPC_URL', 'everywhere', 'is not host:port'],
    [
      'gateway',
      'gateway/main.ts',
      'NATS_URL',
      'http://127.0.0.1:4222',
      'must start with nats:// or tls://',
    ],
    [
      'consumer',
      'receiver/store/main.ts',
      'REDIS_URL',
      'redis-sentinel://127.0.0.1:26379',
      'with the primary they watch',
    ],
    [
      'notifier',
      'receiver/notifier/main.ts',
      'ALERTMANAGER_URLS',
      'am.example:9093',
      'must start with http:// or https://',
    ],
    ['notifier', 'receiver/notifier/main.ts', 'ALERT_RETRY_MAX', 'soon', 'is not a duration'],
    ['producer', 'producer/main.ts', 'INTERVAL', '-1', 'below the minimum'],
    ['producer', 'producer/main.ts', 'HOST', 'my host', 'does not match'],
  ] as const) {
    it(`${service} exits 2 with one line naming ${setting}='${value}'`, async () => {
      const proc = runScript(file, { [setting]: value });
      expect(await proc.exited).to.equal(2);
      const lines = proc.output().trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include(`bad setting ${setting}`).and.include(words);
    });
  }
});
