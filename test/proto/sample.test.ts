import { expect } from 'chai';
import { renderFloat, renderValues } from '../../proto/float.ts';
import { decodeSample, encodeSample, InputError, parseMetricsBody } from '../../proto/sample.ts';

function rejection(body: string, maxNames = 1000): InputError {
  try {
    parseMetricsBody(body, maxNames);
  } catch (err) {
    expect(err).to.be.instanceOf(InputError);
    return err as InputError;
  }
  throw new Error(`body was accepted: ${body}`);
}

describe('sample body parsing', () => {
  it('reads a flat object of names to numbers, in order', () => {
    const metrics = parseMetricsBody(
      ' {"cpu": 1.0, "gpu": 2, "X7Q2LZ0B": -3.5e2, "a.b:c-d_e": 0}\n',
      10,
    );
    expect(Object.entries(metrics)).to.deep.equal([
      ['cpu', 1],
      ['gpu', 2],
      ['X7Q2LZ0B', -350],
      ['a.b:c-d_e', 0],
    ]);
  });

  it('decodes escaped names like JSON does', () => {
    expect(Object.keys(parseMetricsBody('{"\\u0063pu": 1}', 10))).to.deep.equal(['cpu']);
  });

  for (const [body, words] of [
    ['', 'empty'],
    ['   ', 'empty'],
    ['[1, 2]', 'array'],
    ['"cpu"', 'string'],
    ['42', 'number'],
    ['true', 'literal'],
    ['{}', 'no metrics'],
    ['{"cpu": {"user": 1}}', "metric 'cpu' is a nested object"],
    ['{"cpu": [1]}', "metric 'cpu' is an array"],
    ['{"cpu": "12"}', "metric 'cpu' is a string"],
    ['{"cpu": true}', "metric 'cpu' is true"],
    ['{"cpu": null}', "metric 'cpu' is null"],
    ['{"cpu": NaN}', "'NaN' is not a JSON number"],
    ['{"cpu": Infinity}', "'Infinity' is not a JSON number"],
    ['{"cpu": -Infinity}', "metric 'cpu'"],
    ['{"cpu": 1e400}', "metric 'cpu' is not a finite number"],
    ['{"cpu": 01}', "expected ',' or '}'"],
    ['{"cpu": 1,}', 'expected a quoted metric name'],
    ['{"cpu": 1} {"mem": 2}', 'unexpected text after'],
    ['{"cpu": 1', "expected ',' or '}'"],
    ['{"cpu": 1, "cpu": 2}', "metric 'cpu' appears twice"],
    ['{"c p u": 1}', "metric name 'c p u' has characters outside"],
    ['{"сpu": 1}', 'has characters outside'],
    ['{"": 1}', 'metric name is empty'],
    [`{"${'x'.repeat(129)}": 1}`, 'longer than 128'],
    ['{"__proto__": 1}', "metric name '__proto__' is reserved"],
    ['{"constructor": 1}', "metric name 'constructor' is reserved"],
    ['{"cpu\u0001": 1}', 'control character'],
  ] as const) {
    it(`rejects ${JSON.stringify(body).slice(0, 40)} naming the problem`, () => {
      const err = rejection(body);
      expect(err.status).to.equal(400);
      expect(err.message).to.include(words);
    });
  }

  it('rejects more names than the limit with 413', () => {
    const err = rejection('{"a": 1, "b": 2, "c": 3}', 2);
    expect(err.status).to.equal(413);
    expect(err.message).to.include('MAX_METRICS_PER_SAMPLE');
  });

  it('never pollutes Object.prototype, whatever the body', () => {
    rejection('{"__proto__": {"polluted": 1}}');
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });
});

describe('float rendering', () => {
  it('writes integral values with a fraction and keeps others exact', () => {
    expect(renderFloat(1)).to.equal('1.0');
    expect(renderFloat(-7)).to.equal('-7.0');
    expect(renderFloat(0)).to.equal('0.0');
    expect(renderFloat(0.1)).to.equal('0.1');
    expect(renderFloat(1e21)).to.equal('1e+21');
    expect(renderFloat(123456789012)).to.equal('123456789012.0');
    expect(JSON.parse(renderFloat(1e-7))).to.equal(1e-7);
  });

  it('renders a values object that JSON.parse reads back identically', () => {
    const text = renderValues([
      ['cpu', 1],
      ['weird "name"', 2.25],
      ['none', null],
    ]);
    expect(text).to.equal('{"cpu":1.0,"weird \\"name\\"":2.25,"none":null}');
    expect(JSON.parse(text)).to.deep.equal({ cpu: 1, 'weird "name"': 2.25, none: null });
  });
});

describe('sample wire encoding', () => {
  it('round-trips through the NATS JSON form', () => {
    const sample = {
      host: 'web-01.example',
      id: 'abc-1',
      time: 1_700_000_000_123,
      interval: 2.5,
      metrics: { cpu: 1, mem: 0.5 },
    };
    const text = encodeSample(sample);
    expect(text).to.include('"cpu":1.0');
    const back = decodeSample(text);
    expect(back).to.deep.include({
      host: sample.host,
      id: sample.id,
      time: sample.time,
      interval: 2.5,
    });
    expect({ ...back.metrics }).to.deep.equal(sample.metrics);
  });

  it('refuses a message that is not a sample', () => {
    expect(() => decodeSample('not json')).to.throw(InputError, 'not JSON');
    expect(() => decodeSample('{"host":"h","id":"i","time":1,"metrics":{"cpu":"x"}}')).to.throw(
      InputError,
      'string',
    );
    expect(() => decodeSample('{"host":"h h","id":"i","time":1,"metrics":{"cpu":1}}')).to.throw(
      InputError,
      'host',
    );
  });
});
