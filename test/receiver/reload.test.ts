// Rules reload without a restart: a change of RULES_FILE is in force within a
// second or two, SIGHUP reloads at once, and a bad file keeps the rules in
// force while the log names the rule and the field.
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Incident } from '../../proto/incident.ts';
import type { RunningRules } from '../../receiver/rules/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { eventually } from '../harness/eventually.ts';
import { postSample, receiverOn, redisClient, rulesOn, uniqueName } from '../harness/pipeline.ts';
import { runScript } from '../harness/processes.ts';
import { shared } from '../harness/root-hooks.ts';
import { removeDir } from '../harness/servers.ts';

const rulesText = (threshold: number | string) => `
rules:
  - name: reload-hot
    metric: reload.load
    window: 1
    threshold: ${threshold}
`;

describe('rules reload', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'loadstar-reload-'));
  const file = join(dir, 'rules.yaml');
  let receiver: RunningReceiver;
  let rules: RunningRules & { log: { lines: string[] } };

  before(async () => {
    writeFileSync(file, rulesText(90));
    receiver = await receiverOn();
    rules = await rulesOn({ RULES_FILE: file });
  });
  after(async () => {
    await Promise.all([receiver?.stop(), rules?.stop()]);
    removeDir(dir);
  });

  /** Posts a value and resolves with the host's incidents once the rules have evaluated it. */
  const evaluate = async (host: string, value: number): Promise<Incident[]> => {
    const time = Date.now();
    const posted = await postSample(
      receiver.url,
      { 'reload.load': value },
      { 'Loadstar-Host': host, 'Loadstar-Time': String(time), 'Loadstar-Interval': '60' },
    );
    expect(posted.status).to.equal(200);
    const redis = redisClient(shared.redisUrl);
    try {
      await eventually(async () =>
        expect(Number(await redis.hget(`ls:{${host}}:rule:reload-hot`, 'last_time'))).to.equal(
          time,
        ),
      );
      const ids = await redis.smembers(`ls:{${host}}:incidents-open`);
      return ids.map((id) => ({ id }) as Incident);
    } finally {
      redis.disconnect();
    }
  };

  it('puts a changed file in force without a restart', async () => {
    expect(await evaluate(uniqueName('cool'), 60)).to.have.length(0);
    // Written as editors do: a new file renamed over the old one.
    writeFileSync(`${file}.new`, rulesText(50));
    renameSync(`${file}.new`, file);
    await eventually(() => expect(rules.log.lines.join('')).to.include('rules reloaded'), {
      timeoutMs: 5_000,
    });
    expect(await evaluate(uniqueName('warm'), 60)).to.have.length(1);
  });

  it('keeps the rules in force when the new file is bad, naming the rule and the field', async () => {
    writeFileSync(file, rulesText('"high"'));
    await eventually(
      () =>
        expect(rules.log.lines.join('')).to.include(
          "rules[0] 'reload-hot': field 'threshold' must be a number",
        ),
      { timeoutMs: 5_000 },
    );
    expect(rules.log.lines.join('')).to.include('the rules in force stay');
    // Still the threshold of 50.
    expect(await evaluate(uniqueName('still'), 60)).to.have.length(1);
  });

  it('reloads on SIGHUP in a running rules consumer process, which stays up', async () => {
    writeFileSync(file, rulesText(90));
    const proc = runScript('receiver/rules/main.ts', {
      NATS_URL: shared.natsUrl,
      REDIS_URL: shared.redisUrl,
      RULES_URL: 'http://127.0.0.1:0/',
      RULES_FILE: file,
    });
    try {
      await eventually(() => expect(proc.output()).to.include('evaluating incident rules'), {
        timeoutMs: 15_000,
      });
      proc.child.kill('SIGHUP');
      await eventually(() => expect(proc.output()).to.match(/rules reloaded .*trigger=SIGHUP/));
      expect(proc.child.exitCode).to.equal(null);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
      removeDir(proc.cwd);
    }
  });
});
