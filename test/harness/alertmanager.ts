// Starts Debian's prometheus-alertmanager on a free loopback port with a
// minimal config (every alert to a receiver that sends nothing) and a storage
// dir of its own, clustering off; stops it by PID.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Launched, launch } from './deploy-cluster.ts';
import { eventually } from './eventually.ts';
import { freePort, removeDir } from './servers.ts';

export const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

export interface RunningAlertmanager {
  url: string;
  stop(): Promise<void>;
}

export function hasAlertmanager(): boolean {
  return existsSync(ALERTMANAGER);
}

export async function startAlertmanager(): Promise<RunningAlertmanager> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'loadstar-alertmanager-'));
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n",
  );
  const server: Launched = launch(ALERTMANAGER, [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (server.child.exitCode !== null)
        throw new Error(`alertmanager exited: ${server.output()}`);
      const res = await fetch(`${url}/-/ready`);
      if (!res.ok) throw new Error(`alertmanager not ready: ${res.status}`);
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return {
    url,
    async stop() {
      await server.stop();
      removeDir(dir);
    },
  };
}
