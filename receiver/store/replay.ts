// `npm run replay [-- --from N]`: folds the samples stream into Redis again,
// from stream position N (default: the first it keeps). Safe at any time, next
// to the running services: what is already right stays as it is.
import { readConfig } from '../../proto/config.ts';
import { createLog } from '../../proto/log.ts';
import { connectNats, readNatsSettings } from '../../proto/nats.ts';
import { connectRedis, readRedisSettings } from '../../proto/redis.ts';
import { readRetention } from '../../proto/retention.ts';
import { Folder } from '../fold.ts';
import { refold } from './refold.ts';

const log = createLog('replay');
const config = readConfig('replay', (s) => ({
  nats: readNatsSettings(s),
  redis: readRedisSettings(s),
  retention: readRetention(s),
}));
const fromArg = process.argv.indexOf('--from');
const from = fromArg > 0 ? Number(process.argv[fromArg + 1]) : 1;
if (!Number.isInteger(from) || from < 1) {
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
