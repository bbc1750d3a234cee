// `npm run tap -- [subject]`: prints live NATS traffic, one readable line per
// message: time, host, metrics for samples; subject and body for anything else.
// It only listens (a core subscription), so it never slows the pipeline.
import { connect } from 'nats';
import { loadEnv, readConfig } from '../proto/config.ts';
import { natsConnectionOptions, readNatsSettings } from '../proto/nats.ts';
import { decodeSample, type Sample } from '../proto/sample.ts';

export function formatSample(sample: Sample): string {
  const metrics = Object.entries(sample.metrics)
    .map(
      ([name, value]) =>
        `${name}=${Number.isInteger(value) ? value : Number(value.toPrecision(6))}`,
    )
    .join(' ');
  return `${new Date(sample.time).toISOString()} ${sample.host} ${metrics}`;
}

export function formatMessage(subject: string, text: string): string {
  if (subject.startsWith('metrics.samples.')) {
    try {
      return formatSample(decodeSample(text));
    } catch {
      // Not a sample after all: show it raw below.
    }
  }
  return `${subject} ${text}`;
}

const subject = process.argv[2] ?? 'metrics.>';
const nats = readConfig('tap', readNatsSettings, loadEnv());
const nc = await connect({
  ...natsConnectionOptions(nats, 'loadstar-tap'),
  waitOnFirstConnect: false,
  maxReconnectAttempts: -1,
});
process.stderr.write(`tap: listening on '${subject}' at ${nc.getServer()} (Ctrl-C to stop)\n`);
const sub = nc.subscribe(subject);
const stop = () => {
  void nc.drain().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for await (const msg of sub) {
  process.stdout.write(`${formatMessage(msg.subject, msg.string())}\n`);
}
