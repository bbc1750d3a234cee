// A webhook sink, run as its own process by the notifier tests (so that a kill
// is a real outage): `node --import tsx sink.ts <port> <file> ok|hang`. It
// appends one JSON line per request to <file> (kept across restarts) with the
// Idempotency-Key, whether that key was seen before (a repeat it drops), and
// the body. `ok` answers 204; `hang` records the request and never answers.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [portText, file, mode = 'ok'] = process.argv.slice(2);
if (!portText || !file || (mode !== 'ok' && mode !== 'hang')) {
  process.stderr.write('usage: sink.ts <port> <file> ok|hang\n');
  process.exit(2);
}

export interface SinkLine {
  key: string;
  repeat: boolean;
  path: string;
  body: unknown;
}

const seen = new Set<string>(
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as SinkLine).key)
    : [],
);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const key = String(req.headers['idempotency-key'] ?? '');
    const line: SinkLine = {
      key,
      repeat: seen.has(key),
      path: req.url ?? '',
      body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'),
    };
    seen.add(key);
    appendFileSync(file, `${JSON.stringify(line)}\n`);
    if (mode === 'hang') return;
    res.statusCode = 204;
    res.end();
  });
});
server.listen(Number(portText), '127.0.0.1', () => process.stdout.write(`listening ${portText}\n`));
