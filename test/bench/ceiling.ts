// The bare-Koa ceiling: the least a Koa service on this Node can do per request
// (POST: read the body, answer 200 JSON; GET: answer a fixed small JSON), served
// like the loadstar services. Loadstar's figures are quoted as a share of it.
import Koa from 'koa';
import { listenHttp } from '../../deploy/runtime/http.ts';

const FIXED_ANSWER = JSON.stringify({ cpu: 12.5, mem: 40.1, 'load.1': 0.52 });

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method === 'POST') {
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
    ctx.type = 'application/json';
    // It parses nothing: it does not know how many samples a batch holds, so it names none.
    ctx.body = JSON.stringify({ bytes: Buffer.concat(chunks).length });
  } else {
    ctx.type = 'application/json';
    ctx.body = FIXED_ANSWER;
  }
});

const url = new URL(process.env.CEILING_URL ?? 'http://127.0.0.1:0/');
const listener = await listenHttp(app.callback(), url);
process.on('SIGTERM', () => listener.close().then(() => process.exit(0)));
process.on('SIGINT', () => listener.close().then(() => process.exit(0)));
