import { expect } from 'chai';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { postSample, receiverOn, uniqueName } from '../harness/pipeline.ts';
import { runScript } from '../harness/processes.ts';
import { shared } from '../harness/root-hooks.ts';

describe('the NATS tap', function () {
  this.timeout(30_000);
  let receiver: RunningReceiver;
  before(async () => {
    receiver = await receiverOn();
  });
  after(() => receiver.stop());

  it('prints one readable line per sample: time, host, metrics', async () => {
    const tap = runScript('deploy/tap.ts', { NATS_URL: shared.natsUrl });
    try {
      await eventually(() => expect(tap.output()).to.include('listening'), { timeoutMs: 15_000 });
      const host = uniqueName('tapped');
      await eventually(
        async () => {
          await postSample(
            receiver.url,
            { cpu: 12.5, mem: 40 },
            { 'Loadstar-Host': host, 'Loadstar-Time': String(Date.now()) },
          );
          expect(tap.output()).to.include(host);
        },
        { timeoutMs: 10_000, intervalMs: 300 },
      );
      const line = tap
        .output()
        .split('\n')
        .find((l) => l.includes(host))!;
      expect(line).to.match(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${host} cpu=12.5 mem=40$`));
    } finally {
      tap.child.kill('SIGTERM');
      expect(await tap.exited).to.equal(0);
    }
  });
});
