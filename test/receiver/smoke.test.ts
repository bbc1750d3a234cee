import { expect } from 'chai';
import { createLoadstarClient } from '../../proto/grpc.ts';
import {
  gatewayOn,
  getJson,
  postSample,
  receiverOn,
  storeOn,
  uniqueName,
} from '../harness/pipeline.ts';

describe('pipeline smoke', () => {
  it('accepts a sample and serves it', async () => {
    const [r, s, g] = await Promise.all([receiverOn(), storeOn(), gatewayOn()]);
    const host = uniqueName('h');
    const res = await postSample(r.url, { cpu: 1, mem: 2.5 }, { 'loadstar-host': host });
    console.log(res.status, res.body);
    const q = await getJson(new URL(`?topics=cpu,mem,nope&host=${host}`, g.url));
    console.log(q.status, q.text);
    const l = await getJson(new URL(`api/v1/latest?topics=cpu,mem,nope`, g.url));
    console.log(l.status, l.text);
    const h = await getJson(new URL(`api/v1/hosts`, g.url));
    console.log(h.status, h.text.slice(0, 300));
    const client = createLoadstarClient(g.grpcAddress);
    const reply = await new Promise((res, rej) =>
      client.Latest({ topics: ['cpu'], host }, (e, r) => (e ? rej(e) : res(r))),
    );
    console.log(JSON.stringify(reply));
    const stream = client.Subscribe({ hosts: [host] });
    const got = new Promise((res) => stream.once('data', res));
    await new Promise((r) => setTimeout(r, 300));
    await postSample(r.url, { cpu: 3 }, { 'loadstar-host': host });
    console.log(JSON.stringify(await got));
    const replay = client.Subscribe({ hosts: [host], from_seq: 1 });
    console.log('replay', JSON.stringify(await new Promise((res) => replay.once('data', res))));
    stream.on('error', () => {});
    replay.on('error', () => {});
    stream.cancel();
    replay.cancel();
    client.close();
    const m = await getJson(new URL(`metrics`, g.url)).catch((e) => ({ text: String(e) }));
    console.log(
      m.text
        .split('\n')
        .filter((l: string) => l.startsWith('loadstar_samples'))
        .join('\n'),
    );
    await Promise.all([r.stop(), s.stop(), g.stop()]);
    console.log(g.log.lines.join(''), s.log.lines.join(''), r.log.lines.join(''));
    expect(res.status).to.equal(200);
  });
});
