import { expect } from 'chai';
import { ConfigError } from '../../deploy/runtime/config.ts';
import { UnavailableError } from '../../deploy/runtime/http.ts';
import { RequestError } from '../../deploy/runtime/request.ts';
import { FileError } from '../../deploy/runtime/structured-file.ts';
import { ExecutionError } from '../../gateway/promql/engine.ts';
import { PromqlError } from '../../gateway/promql/lex.ts';
import type { RunningGateway } from '../../gateway/service.ts';
import { ERROR_CODES, errorCode, LoadstarError } from '../../proto/errors.ts';
import { UnmappableSeries } from '../../proto/prometheus-names.ts';
import { InputError } from '../../proto/sample.ts';
import { RoutingError } from '../../receiver/notifier/routing.ts';
import { ProtobufError } from '../../receiver/remote-write.ts';
import { RuleError } from '../../receiver/rules/rules.ts';
import type { RunningReceiver } from '../../receiver/service.ts';
import { SnappyError } from '../../receiver/snappy.ts';
import { gatewayOn, getJson, postSample, receiverOn } from '../harness/pipeline.ts';

describe('errors', () => {
  it('carry one code of a fixed set, by class or by HTTP status', () => {
    const cases: [Error, string][] = [
      [new ConfigError('INTERVAL', 'is wrong'), 'bad_setting'],
      [new FileError('rules.yaml: cannot be read'), 'bad_file'],
      [new RuleError("rules[0]: field 'x' is wrong"), 'bad_file'],
      [new RoutingError("routes[0]: field 'x' is wrong"), 'bad_file'],
      [new InputError('body is not JSON'), 'bad_input'],
      [new InputError('no incident 1', 404, 'not_found'), 'not_found'],
      [new InputError('needs a token', 401, 'unauthorized'), 'unauthorized'],
      [new InputError('not your host', 403, 'forbidden'), 'forbidden'],
      [new InputError('too big', 413, 'too_large'), 'too_large'],
      [new InputError('slow down', 429, 'rate'), 'rate_limited'],
      [new InputError('wrong type', 415, 'content_type'), 'bad_input'],
      [new UnavailableError('Redis is away'), 'unavailable'],
      [new RequestError('connection refused', 'ECONNREFUSED'), 'request_failed'],
      [new PromqlError('unexpected end', 3, 'up{'), 'bad_query'],
      [new ExecutionError('too many series'), 'query_failed'],
      [new UnmappableSeries('label __name__ is missing'), 'bad_input'],
      [new SnappyError('offset past the start'), 'bad_input'],
      [new ProtobufError('truncated varint'), 'bad_input'],
      [new Error('a bug'), 'internal'],
    ];
    for (const [err, code] of cases) {
      expect(errorCode(err), err.message).to.equal(code);
      expect(ERROR_CODES).to.include(errorCode(err));
      if (code !== 'internal') expect(err).to.be.instanceOf(LoadstarError);
    }
    expect(new RequestError('reset', 'ECONNRESET').systemCode).to.equal('ECONNRESET');
    expect(new ConfigError('INTERVAL', 'is wrong').message).to.equal('INTERVAL: is wrong');
  });

  describe('in HTTP answers', function () {
    this.timeout(30_000);
    let receiver: RunningReceiver;
    let gateway: RunningGateway;
    before(async () => {
      receiver = await receiverOn();
      gateway = await gatewayOn();
    });
    after(async () => {
      await receiver.stop();
      await gateway.stop();
    });

    it('carry the code beside the message', async () => {
      const bad = await postSample(receiver.url, '{"cpu": "high"}');
      expect(bad.status).to.equal(400);
      expect(bad.body).to.include({ code: 'bad_input' });
      expect(bad.body.error).to.be.a('string').and.include('cpu');
      const unknown = await getJson(new URL('no-such-route', gateway.url));
      expect(unknown.status).to.equal(404);
      expect(unknown.body).to.include({ code: 'not_found' });
      expect(unknown.body.error).to.include('no route');
    });
  });
});
