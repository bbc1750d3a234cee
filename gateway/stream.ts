// Server-sent events of one host's samples, for the dashboard: each sample the
// moment it enters the stream, with whether history keeps it (recording rules).
// A client that reads too slowly is disconnected (it reconnects and reloads)
// rather than let its buffer grow.
import { PassThrough } from 'node:stream';
import type Koa from 'koa';
import { renderValues } from '../proto/float.ts';
import { isRecorded, type RecordingRules } from '../proto/recording.ts';
import type { FeedEvent, LiveFeed } from './feed.ts';

/** Bytes waiting for one client before it is cut off. */
const MAX_BUFFERED = 1_000_000;
const HEARTBEAT_MS = 15_000;

export function streamSamples(
  ctx: Koa.Context,
  feed: LiveFeed,
  rules: () => RecordingRules,
  host: string,
  metrics: readonly string[] | null,
): void {
  const out = new PassThrough();
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Accel-Buffering', 'no');
  ctx.type = 'text/event-stream';
  ctx.status = 200;
  ctx.body = out;
  out.write('retry: 2000\n: connected\n\n');

  const send = ({ seq, sample }: FeedEvent) => {
    if (sample.host !== host) return;
    const values: [string, number][] = [];
    for (const name of metrics ?? Object.keys(sample.metrics)) {
      const value = sample.metrics[name];
      if (value !== undefined) values.push([name, value]);
    }
    if (values.length === 0) return;
    const recorded = isRecorded(rules(), host, sample.time);
    out.write(
      `id: ${seq}\ndata: {"seq":${seq},"time":${sample.time},"recorded":${recorded},"values":${renderValues(values)}}\n\n`,
    );
    if (out.writableLength > MAX_BUFFERED) close();
  };
  let stopListening = () => {};
  // A feed that cannot start ends the stream: the browser reconnects (retry: 2000).
  feed.listen(send).then(
    (stop) => {
      if (closed) stop();
      else stopListening = stop;
    },
    () => close(),
  );
  const heartbeat = setInterval(() => out.write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    stopListening();
    clearInterval(heartbeat);
    out.end();
  };
  ctx.req.on('close', close);
  out.on('error', close);
}
