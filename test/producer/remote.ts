// Stand-ins for remote sources: a real HTTP server on loopback (port 0) that
// answers what the test sets (or hangs), and sources built from a sources file
// exactly as the agent builds them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Env } from '../../deploy/runtime/config.ts';
import type { Log } from '../../deploy/runtime/log.ts';
import { createMemoryLog } from '../../deploy/runtime/log.ts';
import {
  createRemoteSource,
  type RemoteSourceSettings,
  readSourcesFile,
} from '../../producer/sources/file.ts';
import type { Source } from '../../producer/sources/source.ts';

export interface Answer {
  status?: number;
  body?: string;
  contentType?: string;
  /** Accept the request and never answer it. */
  hang?: boolean;
}

export interface EndpointServer {
  url: string;
  /** Every request seen, oldest first. */
  requests: { path: string; headers: IncomingHttpHeaders }[];
  /** What requests get (given the request's number, from 1); replace it to change the answer. */
  answer: Answer | ((request: number) => Answer);
  close(): Promise<void>;
}

export async function startEndpointServer(
  answer: EndpointServer['answer'],
  path = '/',
): Promise<EndpointServer> {
  const server = createServer((req, res) => {
    endpoint.requests.push({ path: req.url ?? '', headers: req.headers });
    const a =
      typeof endpoint.answer === 'function'
        ? endpoint.answer(endpoint.requests.length)
        : endpoint.answer;
    if (a.hang) return;
    res.writeHead(a.status ?? 200, { 'content-type': a.contentType ?? 'application/json' });
    res.end(a.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint: EndpointServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    requests: [],
    answer,
    close: () =>
      new Promise<void>((resolve) => {
        // A hanging request would keep close() waiting for ever.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return endpoint;
}

/** Writes entries as a sources file (YAML, or JSON when `ext` is json) in a fresh directory. */
export function writeSourcesFile(content: unknown, ext: 'yaml' | 'json' = 'yaml'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'loadstar-sources-')), `sources.${ext}`);
  writeFileSync(path, ext === 'json' ? JSON.stringify(content, null, 2) : stringify(content));
  return path;
}

interface FileDefaults {
  intervalSeconds?: number;
  timeoutMs?: number;
  env?: Env;
}

/** Entries read through a sources file, as the agent reads them (agent INTERVAL 1 s, SOURCE_TIMEOUT 2 s). */
export function settingsFrom(
  entries: object[],
  { intervalSeconds = 1, timeoutMs = 2_000, env = {} }: FileDefaults = {},
): RemoteSourceSettings[] {
  return readSourcesFile(writeSourcesFile(entries), { intervalSeconds, timeoutMs, env });
}

/** Sources made from entries through a sources file, as the agent makes them. */
export function sourcesFrom(
  entries: object[],
  defaults: FileDefaults & { log?: Log } = {},
): Source[] {
  const log = defaults.log ?? createMemoryLog();
  return settingsFrom(entries, defaults).map((s) => createRemoteSource(s, log));
}
