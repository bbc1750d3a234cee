// `npm run replay [-- --from N]`: folds the samples stream into Redis again,
// from stream position N (default: the first it keeps). Safe at any time, next
// to the running services: what is already right stays as it is.
import { type Command, startCommand } from '../../deploy/runtime/command.ts';
import { createLog, type LogSettings, readLogSettings } from '../../deploy/runtime/log.ts';
import { connectNats, type NatsSettings, readNatsSettings } from '../../deploy/runtime/nats.ts';
import { connectRedis, type RedisSettings, readRedisSettings } from '../../deploy/runtime/redis.ts';
import { type Retention, readRetention } from '../../proto/retention.ts';
import { Folder } from '../fold.ts';
import { refold } from './refold.ts';

const replayCommand: Command<{
  log: LogSettings;
  nats: NatsSettings;
  redis: RedisSettings;
  retention: Retention;
}> = {
  name: 'replay',
  about:
    'folds the samples stream into Redis again, from a stream position (default: the first it keeps); safe next to the running services.',
  usage: '[--from <stream position>]',
  parse: (s) => ({
    log: readLogSettings(s),
    nats: readNatsSettings(s),
    redis: readRedisSettings(s),
    retention: readRetention(s),
  }),
};

const config = startCommand(replayCommand);
const log = createLog('replay', config.log);
const fromArg = process.argv.indexOf('--from');
const from = fromArg > 0 ? Number(process.argv[fromArg + 1]) : 1;
if (!Number.isInteger(from) || from < 1 || process.argv.length !== (fromArg > 0 ? 4 : 2)) {
  process.stderr.write('usage: npm run replay [-- --from <stream position>]\n');
  process.exit(2);
}
const nats = await connectNats(config.nats, 'loadstar-replay', log);
const redis = await connectRedis(config.redis, 'loadstar-replay', log);
try {
  const result = await refold(nats, new Folder(redis, config.retention, config.redis), from, log);
  log.info('replayed', { ...result });
} finally {
  await nats.close();
  redis.disconnect();
}
