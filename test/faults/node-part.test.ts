// The fault suite's and the cluster test's service processes are started as their
// systemd units start them: one that exits on its own before it is ready (JetStream
// timing out at its start, as a new cluster's did in a CI run) is started again.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { REPO } from '../harness/processes.ts';
import { freePort, removeDir } from '../harness/servers.ts';
import { NodePart } from './pipeline.ts';

describe('a service process of the fault suite', () => {
  it('is started again 2 s after it exits on its own before it is ready, as systemd would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loadstar-part-'));
    const port = await freePort();
    // Fails its first start (no marker yet), then answers ready.
    const script = join(dir, 'service.mjs');
    writeFileSync(
      script,
      `import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
const marker = ${JSON.stringify(join(dir, 'started-once'))};
if (!existsSync(marker)) {
  writeFileSync(marker, '');
  console.error('could not start error=TIMEOUT');
  process.exit(1);
}
createServer((req, res) => res.end('ok')).listen(${port}, '127.0.0.1');
`,
    );
    const part = new NodePart(
      'flaky',
      relative(REPO, script),
      {},
      `http://127.0.0.1:${port}/readyz`,
      dir,
    );
    try {
      await part.start();
      expect(part.tail()).to.include('started again, as systemd would');
    } finally {
      await part.stop();
      removeDir(dir);
    }
  });
});
