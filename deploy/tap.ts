// `npm run tap -- [subject]`: prints live NATS traffic, one readable line per
// message: samples and incidents readably; subject and body for anything else.
// It only listens (a core subscription), so it never slows the pipeline.
import { connect } from 'nats';
import type { IncidentEvent } from '../proto/incident.ts';
import { decodeSample, type Sample } from '../proto/sample.ts';
import { type Command, startCommand } from './runtime/command.ts';
import { type NatsSettings, natsConnectionOptions, readNatsSettings } from './runtime/nats.ts';

export function formatSample(sample: Sample): string {
  const metrics = Object.entries(sample.metrics)
    .map(
      ([name, value]) =>
        `${name}=${Number.isInteger(value) ? value : Number(value.toPrecision(6))}`,
    )
    .join(' ');
  return `${new Date(sample.time).toISOString()} ${sample.host} ${metrics}`;
}

/** An incident's transition as one line: what, where, how bad. */
export function formatIncident(text: string): string | null {
  try {
    const { transition, incident: i } = JSON.parse(text) as IncidentEvent;
    const at = new Date(
      transition === 'opened' ? i.opened_at_ms : (i.resolved_at_ms ?? i.opened_at_ms),
    ).toISOString();
    return `${at} ${i.host} INCIDENT ${transition} ${i.severity} ${i.rule}: ${i.aggregate}(${i.metric}) over ${i.window} ${i.op} ${i.threshold} (avg ${Number(i.avg.toPrecision(6))}, max ${i.max}, id ${i.id})`;
  } catch {
    return null;
  }
}

export function formatMessage(subject: string, text: string): string {
  if (subject.startsWith('incidents.')) {
    const line = formatIncident(text);
    if (line) return line;
  }
  if (subject.startsWith('metrics.samples.')) {
    try {
      return formatSample(decodeSample(text));
    } catch {
      // Not a sample after all: show it raw below.
    }
  }
  return `${subject} ${text}`;
}

const tapCommand: Command<NatsSettings> = {
  name: 'tap',
  about:
    'prints live NATS traffic, one readable line per message (samples and incidents readably); it only listens, so it never slows the pipeline.',
  usage: "[subject ...]   (default: 'metrics.>' 'incidents.>')",
  parse: readNatsSettings,
};

const nats = startCommand(tapCommand);
// By default the pipeline's own traffic: samples and incidents.
const subjects = process.argv.length > 2 ? process.argv.slice(2) : ['metrics.>', 'incidents.>'];
const nc = await connect({
  ...natsConnectionOptions(nats, 'loadstar-tap'),
  waitOnFirstConnect: false,
  maxReconnectAttempts: -1,
});
process.stderr.write(
  `tap: listening on ${subjects.map((s) => `'${s}'`).join(', ')} at ${nc.getServer()} (Ctrl-C to stop)\n`,
);
for (const subject of subjects) {
  nc.subscribe(subject, {
    callback: (_err, msg) => process.stdout.write(`${formatMessage(msg.subject, msg.string())}\n`),
  });
}
const stop = () => {
  void nc.drain().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
