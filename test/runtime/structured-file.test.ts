import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Entry, FileError, readStructuredFile } from '../../deploy/runtime/structured-file.ts';
import { parseRouting } from '../../receiver/notifier/routing.ts';
import { parseRules, RuleError } from '../../receiver/rules/rules.ts';

function written(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'loadstar-file-')), name);
  writeFileSync(path, text);
  return path;
}

function refusal(run: () => unknown): FileError {
  try {
    run();
  } catch (err) {
    expect(err).to.be.instanceOf(FileError);
    return err as FileError;
  }
  throw new Error('the file was accepted');
}

describe('structured files', () => {
  it('names the file, the line and the field of a bad rule in YAML', () => {
    const path = written(
      'rules.yaml',
      'rules:\n  - name: cpu-high\n    metric: cpu\n    window: 3\n    threshold: ninety\n',
    );
    const err = refusal(() => parseRules(readStructuredFile(path)));
    expect(err).to.be.instanceOf(RuleError);
    expect(err.message).to.equal(
      `rules[0] 'cpu-high': field 'threshold' must be a number (${path} line 5)`,
    );
    expect(err).to.include({ file: path, line: 5, field: 'threshold' });
  });

  it('names the line in a JSON file too', () => {
    const path = written(
      'rules.json',
      '{\n  "rules": [\n    {"name": "a", "metric": "cpu", "threshold": 1,\n     "window": "3 weeks"}\n  ]\n}\n',
    );
    expect(refusal(() => parseRules(readStructuredFile(path)))).to.include({ line: 4 });
  });

  it('names the line of a nested field and of a route', () => {
    const path = written(
      'routes.yaml',
      'receivers:\n  - name: x\n    type: slack\n    url: http://p\nroutes:\n  - receivers: x\n    remind_every: often\n',
    );
    const err = refusal(() => parseRouting(readStructuredFile(path), none, {}));
    expect(err.message).to.match(/^routes\[0\]: field 'remind_every' must be a duration: /);
    expect(err).to.include({ line: 7, field: 'remind_every' });
    const list = written('list.yaml', 'top:\n  items:\n    - a: 1\n    - a: 2\n      b: true\n');
    const top = new Entry(readStructuredFile(list) as Record<string, unknown>, list);
    const items = new Entry(top.value('top') as Record<string, unknown>, list).entries('items')!;
    expect(refusal(() => items[1]!.checkKnown(['a']))).to.include({
      line: 5,
      field: 'items[1].b',
    });
  });

  it('refuses with the entry alone for values that come from no file', () => {
    const err = refusal(() => parseRules({ rules: [{ name: 'x', metric: 'cpu', window: 3 }] }));
    expect(err.message).to.equal("rules[0] 'x': field 'threshold' must be a number");
    expect(err.line).to.equal(undefined);
  });
});

const none = { webhook: [], slack: [], alertmanager: [], remindEveryMs: null };
