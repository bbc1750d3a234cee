// Requests Node's HTTP parser refuses before any route sees them, written on
// raw sockets to the receiver and the gateway: each gets a JSON error with the
// right status and a closed connection, like every other bad input.
import { connect } from 'node:net';
import { expect } from 'chai';
import type { RunningGateway } from '../../gateway/service.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { gatewayOn, getJson, postSample, receiverOn, uniqueName } from '../harness/pipeline.ts';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `text` as is and reads every answer on the connection until the server
 * closes it (our side stays open: the server must close it itself).
 */
function sendRaw(url: URL, text: string): Promise<RawAnswer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let raw = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      raw = Buffer.concat([raw, d]);
    });
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      resolve(parseAnswers(raw.toString('latin1')));
    });
    socket.write(Buffer.from(text, 'latin1'));
  });
}

function parseAnswers(raw: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) throw new Error(`an answer without a complete head: ${rest.slice(0, 200)}`);
    const [statusLine = '', ...lines] = rest.slice(0, headEnd).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    answers.push({ status, headers, body: rest.slice(headEnd + 4, headEnd + 4 + length) });
    rest = rest.slice(headEnd + 4 + length);
  }
  return answers;
}

/** What Node's parser refuses, and the status each must get. */
const MALFORMED: { what: string; status: number; request: (path: string) => string }[] = [
  {
    what: 'a control character (\\x0b) in the Loadstar-Host header',
    status: 400,
    request: (path) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nLoadstar-Host: web\x0b01\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
  },
  { what: 'a request line that is not HTTP', status: 400, request: () => 'GARBAGE\r\n\r\n' },
  {
    what: 'two different Content-Lengths',
    status: 400,
    request: (path) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
  },
  {
    what: 'a chunk size that is not hexadecimal',
    status: 400,
    request: (path) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
  },
  {
    what: 'a space in a header name',
    status: 400,
    request: (path) => `POST ${path} HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n`,
  },
  {
    what: 'headers larger than the parser reads',
    status: 431,
    request: (path) => `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  },
];

function expectJsonRefusal(answer: RawAnswer | undefined, status: number, what: string): void {
  expect(answer, what).to.not.equal(undefined);
  expect(answer!.status, what).to.equal(status);
  expect(answer!.headers['content-type'], what).to.match(/^application\/json\b/);
  expect(answer!.headers.connection, what).to.equal('close');
  const body = JSON.parse(answer!.body) as { error?: unknown };
  expect(body.error, what).to.be.a('string').and.not.equal('');
}

for (const service of ['receiver', 'gateway'] as const) {
  describe(`the ${service} on requests its HTTP parser refuses`, function () {
    this.timeout(30_000);
    let running: RunningReceiver | RunningGateway;
    let url: URL;
    let path: string;

    before(async () => {
      running = service === 'receiver' ? await receiverOn() : await gatewayOn();
      url = running.url;
      path = url.pathname;
    });
    after(() => running.stop());

    for (const { what, status, request } of MALFORMED) {
      it(`answers ${status} with a JSON error and closes the connection for ${what}`, async () => {
        const answers = await sendRaw(url, request(path));
        expect(answers, what).to.have.length(1);
        expectJsonRefusal(answers[0], status, what);
      });
    }

    it('names what the parser refused', async () => {
      const [answer] = await sendRaw(url, MALFORMED[0]!.request(path));
      expect(JSON.parse(answer!.body).error)
        .to.include('malformed HTTP request')
        .and.include('header value');
    });

    it('answers a good request, then a malformed one on the same connection, each in turn', async () => {
      const answers = await sendRaw(
        url,
        `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n`,
      );
      expect(answers.map((a) => a.status)).to.deep.equal([200, 400]);
      expect(JSON.parse(answers[0]!.body)).to.deep.equal({ status: 'ok' });
      expectJsonRefusal(answers[1], 400, 'the second request');
    });

    it('stays up and counts the refusals in /metrics', async () => {
      expect((await getJson(new URL('/healthz', url))).status).to.equal(200);
      if (service === 'receiver') {
        const ok = await postSample(url, { cpu: 1.5 }, { 'Loadstar-Host': uniqueName('after') });
        expect(ok.status).to.equal(200);
      }
      const metrics = await (await fetch(new URL('/metrics', url))).text();
      const count = (status: number) =>
        Number(
          new RegExp(
            `loadstar_http_malformed_requests_total\\{status="${status}"[^}]*\\} (\\d+)`,
          ).exec(metrics)?.[1] ?? 0,
        );
      expect(count(400)).to.be.at.least(MALFORMED.filter((m) => m.status === 400).length + 2);
      expect(count(431)).to.be.at.least(1);
    });
  });
}
