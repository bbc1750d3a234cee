// Reads a PromQL query into an expression tree: a recursive-descent parser with
// operator precedence (Pratt) over the tokens of lex.ts, and the type checks
// Prometheus makes at parse time. Every error says where. PromQL that loadstar
// does not evaluate is refused here by name, so it never yields a wrong answer.
import { PROM_LABEL_NAME } from '../../proto/prometheus-names.ts';
import {
  type AggregateOp,
  type BinaryOp,
  COMPARISON_OPS,
  type Expr,
  FUNCTIONS,
  type Matcher,
  type MatchType,
  matches,
  OTHER_FUNCTIONS,
  SET_OPS,
  type SelectorNode,
  typeOf,
  type ValueType,
} from './ast.ts';
import { lex, PromqlError, type Token } from './lex.ts';
import { compileRegexp, RegexpError } from './regexp.ts';

const AGGREGATIONS: ReadonlySet<string> = new Set([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'topk',
  'bottomk',
]);
const OTHER_AGGREGATIONS: ReadonlySet<string> = new Set([
  'group',
  'stddev',
  'stdvar',
  'count_values',
  'quantile',
]);

/** Binding strength of each binary operator; ^ binds from the right. */
const PRECEDENCE: Record<string, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '<=': 3,
  '<': 3,
  '>=': 3,
  '>': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
};
const POWER = PRECEDENCE['^']!;
/**
 * Deepest expression tree loadstar reads: parsing and evaluating recurse, and
 * a query of ten thousand parentheses must be a 400, not a stack overflow.
 */
export const MAX_DEPTH = 200;

const NAMES: Record<ValueType, string> = {
  scalar: 'scalar',
  vector: 'instant vector',
  matrix: 'range vector',
  string: 'string',
};

export function parseQuery(query: string): Expr {
  return new Parser(query).parseAll();
}

/** A series selector as the API's match[] takes it: `up`, `{host="web-01"}`, `load_1{host=~"web.*"}`. */
export function parseSelector(text: string): Matcher[] {
  const parser = new Parser(text);
  const expr = parser.parseAll();
  if (expr.kind !== 'selector' || expr.offsetMs !== 0)
    throw new PromqlError('expected a series selector such as up{host="web-01"}', 0, text);
  return expr.matchers;
}

class Parser {
  private readonly tokens: Token[];
  private at = 0;
  /** parseExpr calls in progress. */
  private depth = 0;

  constructor(private readonly query: string) {
    this.tokens = lex(query);
  }

  parseAll(): Expr {
    if (this.peek().kind === 'eof') this.fail('no expression found in input');
    const expr = this.parseExpr(0);
    const rest = this.peek();
    if (rest.kind !== 'eof') this.fail(`unexpected ${describe(rest)}`, rest);
    // Operator chains (1 + 1 + ...) deepen the tree without deepening the parser.
    if (depthOf(expr) > MAX_DEPTH)
      throw new PromqlError(`expression nested deeper than ${MAX_DEPTH} levels`, 0, this.query);
    return expr;
  }

  // ---- tokens ----------------------------------------------------------------

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.at + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.at++;
    return token;
  }

  private fail(reason: string, token: Token = this.peek()): never {
    throw new PromqlError(reason, token.pos, this.query);
  }

  private unsupported(what: string, token: Token): never {
    throw new PromqlError(
      `${what} is not evaluated by loadstar (see the README's Grafana section for what is)`,
      token.pos,
      this.query,
      'unsupported',
    );
  }

  private isPunct(text: string, token = this.peek()): boolean {
    return token.kind === 'punct' && token.text === text;
  }

  private isWord(word: string, token = this.peek()): boolean {
    return token.kind === 'identifier' && token.text.toLowerCase() === word;
  }

  private expectPunct(text: string, context: string): Token {
    const token = this.peek();
    if (!this.isPunct(text))
      this.fail(`unexpected ${describe(token)} ${context}, expected "${text}"`);
    return this.next();
  }

  // ---- expressions -------------------------------------------------------------

  /** The binary operator at the cursor, if any. */
  private binaryOp(): string | null {
    const token = this.peek();
    if (token.kind === 'operator' && token.text in PRECEDENCE) return token.text;
    if (token.kind === 'identifier') {
      const word = token.text.toLowerCase();
      if (word in PRECEDENCE) return word;
    }
    return null;
  }

  private parseExpr(minPrecedence: number): Expr {
    if (++this.depth > MAX_DEPTH) this.fail(`expression nested deeper than ${MAX_DEPTH} levels`);
    try {
      return this.parseOperators(minPrecedence);
    } finally {
      this.depth--;
    }
  }

  private parseOperators(minPrecedence: number): Expr {
    let lhs = this.parseUnary();
    for (;;) {
      const op = this.binaryOp();
      if (op === null) return lhs;
      const precedence = PRECEDENCE[op]!;
      if (precedence < minPrecedence) return lhs;
      const opToken = this.next();
      if (op === 'atan2') this.unsupported('the atan2 operator', opToken);
      let bool = false;
      if (this.isWord('bool')) {
        if (!COMPARISON_OPS.has(op))
          this.fail('bool modifier can only be used on comparison operators');
        this.next();
        bool = true;
      }
      let matching: { on: boolean; labels: string[] } | undefined;
      if (this.isWord('on') || this.isWord('ignoring')) {
        const on = this.isWord('on');
        this.next();
        matching = { on, labels: this.parseLabelList(on ? 'on' : 'ignoring') };
      }
      if (this.isWord('group_left') || this.isWord('group_right'))
        this.unsupported(`many-to-one matching (${this.peek().text})`, this.peek());
      // ^ binds from the right: 2 ^ 3 ^ 2 is 2 ^ 9.
      const rhs = this.parseExpr(op === '^' ? precedence : precedence + 1);
      lhs = this.checkBinary({
        kind: 'binary',
        op: op as BinaryOp,
        lhs,
        rhs,
        bool,
        matching,
        pos: opToken.pos,
      });
    }
  }

  private checkBinary(node: Expr & { kind: 'binary' }): Expr {
    const left = typeOf(node.lhs);
    const right = typeOf(node.rhs);
    const where = { kind: 'operator', text: node.op, pos: node.pos } as Token;
    for (const type of [left, right]) {
      if (type !== 'scalar' && type !== 'vector')
        this.fail('binary expression must contain only scalar and instant vector types', where);
    }
    const bothScalar = left === 'scalar' && right === 'scalar';
    if (SET_OPS.has(node.op) && (left !== 'vector' || right !== 'vector'))
      this.fail(`set operator "${node.op}" not allowed in binary scalar expression`, where);
    if (COMPARISON_OPS.has(node.op) && bothScalar && !node.bool)
      this.fail('comparisons between scalars must use BOOL modifier', where);
    if (node.matching && (left !== 'vector' || right !== 'vector'))
      this.fail('vector matching only allowed between instant vectors', where);
    return node;
  }

  private parseUnary(): Expr {
    const token = this.peek();
    if (token.kind === 'operator' && (token.text === '-' || token.text === '+')) {
      this.next();
      // A sign binds less tightly than ^ (-2 ^ 2 is -4) and more than anything else.
      const expr = this.parseExpr(POWER);
      const type = typeOf(expr);
      if (type !== 'scalar' && type !== 'vector')
        this.fail(
          `unary expression only allowed on expressions of type scalar or instant vector, got ${NAMES[type]}`,
          token,
        );
      return { kind: 'unary', op: token.text as '-' | '+', expr, pos: token.pos };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private parsePrimary(): Expr {
    const token = this.peek();
    switch (token.kind) {
      case 'number':
        this.next();
        return { kind: 'number', value: token.value!, pos: token.pos };
      case 'string':
        this.next();
        return { kind: 'string', value: token.text, pos: token.pos };
      case 'duration':
        return this.fail(`unexpected duration "${token.text}"`);
      case 'punct':
        if (token.text === '(') {
          this.next();
          const expr = this.parseExpr(0);
          this.expectPunct(')', 'in parenthesized expression');
          return { kind: 'paren', expr, pos: token.pos };
        }
        if (token.text === '{') return this.parseSelector(null);
        return this.fail(`unexpected ${describe(token)}`);
      case 'identifier':
        return this.parseName();
      case 'operator':
        return this.fail(`unexpected ${describe(token)}`);
      case 'eof':
        return this.fail('unexpected end of input');
    }
  }

  /** A name starts a function call, an aggregation, or a vector selector. */
  private parseName(): Expr {
    const token = this.peek();
    const word = token.text.toLowerCase();
    if (AGGREGATIONS.has(word) || OTHER_AGGREGATIONS.has(word)) {
      const after = this.peek(1);
      if (this.isPunct('(', after) || this.isWord('by', after) || this.isWord('without', after)) {
        if (OTHER_AGGREGATIONS.has(word)) this.unsupported(`the aggregation "${word}"`, token);
        return this.parseAggregation();
      }
    }
    if (this.isPunct('(', this.peek(1))) {
      if (token.text in FUNCTIONS) return this.parseCall();
      if (OTHER_FUNCTIONS.has(token.text)) this.unsupported(`the function "${token.text}"`, token);
      return this.fail(`unknown function with name "${token.text}"`);
    }
    if (
      ['bool', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset'].includes(
        word,
      )
    )
      this.fail(`unexpected ${describe(token)}`);
    this.next();
    return this.parseSelector(token);
  }

  private parseCall(): Expr {
    const name = this.next();
    this.next();
    const args: Expr[] = [];
    if (!this.isPunct(')')) {
      for (;;) {
        args.push(this.parseExpr(0));
        if (this.isPunct(',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    this.expectPunct(')', `in call to function "${name.text}"`);
    const signature = FUNCTIONS[name.text]!;
    if (args.length !== signature.args.length) {
      this.fail(
        `expected ${signature.args.length} argument(s) in call to "${name.text}", got ${args.length}`,
        name,
      );
    }
    args.forEach((arg, i) => {
      const want = signature.args[i]!;
      const got = typeOf(arg);
      if (got !== want) {
        this.fail(
          `expected type ${NAMES[want]} in call to function "${name.text}", got ${NAMES[got]}`,
          name,
        );
      }
    });
    return { kind: 'call', func: name.text, args, pos: name.pos };
  }

  private parseAggregation(): Expr {
    const opToken = this.next();
    const op = opToken.text.toLowerCase() as AggregateOp;
    let grouping: string[] | null = null;
    let without = false;
    const readModifier = () => {
      if (this.isWord('by') || this.isWord('without')) {
        if (grouping !== null) this.fail('aggregation may have only one by or without clause');
        without = this.isWord('without');
        this.next();
        grouping = this.parseLabelList(without ? 'without' : 'by');
      }
    };
    readModifier();
    this.expectPunct('(', `in aggregation "${op}"`);
    let param: Expr | undefined;
    let expr = this.parseExpr(0);
    if (op === 'topk' || op === 'bottomk') {
      this.expectPunct(',', `in aggregation "${op}": it takes k and an expression`);
      param = expr;
      expr = this.parseExpr(0);
      if (typeOf(param) !== 'scalar')
        this.fail(
          `expected type scalar in aggregation parameter, got ${NAMES[typeOf(param)]}`,
          opToken,
        );
    } else if (this.isPunct(',')) {
      this.fail(`aggregation "${op}" takes one expression`);
    }
    this.expectPunct(')', `in aggregation "${op}"`);
    readModifier();
    if (typeOf(expr) !== 'vector')
      this.fail(
        `expected type instant vector in aggregation expression, got ${NAMES[typeOf(expr)]}`,
        opToken,
      );
    return {
      kind: 'aggregate',
      op,
      param,
      expr,
      grouping: grouping ?? [],
      without,
      pos: opToken.pos,
    };
  }

  /** `( a, b, )` after by, without, on and ignoring; keywords are fine as label names. */
  private parseLabelList(context: string): string[] {
    this.expectPunct('(', `after ${context}`);
    const labels: string[] = [];
    while (!this.isPunct(')')) {
      const token = this.next();
      if (token.kind !== 'identifier' || !PROM_LABEL_NAME.test(token.text))
        this.fail(`unexpected ${describe(token)} in grouping opts, expected label`, token);
      labels.push(token.text);
      if (this.isPunct(',')) this.next();
      else if (!this.isPunct(')'))
        this.fail(`unexpected ${describe(this.peek())} in grouping opts, expected "," or ")"`);
    }
    this.next();
    return labels;
  }

  /** `name`, `name{matchers}` or `{matchers}`; `nameToken` is the name already read, if any. */
  private parseSelector(nameToken: Token | null): SelectorNode {
    const matchers: Matcher[] = [];
    const pos = nameToken?.pos ?? this.peek().pos;
    if (nameToken) matchers.push({ name: '__name__', type: '=', value: nameToken.text });
    if (this.isPunct('{')) {
      this.next();
      while (!this.isPunct('}')) {
        const label = this.next();
        if (label.kind !== 'identifier' || !PROM_LABEL_NAME.test(label.text))
          this.fail(`unexpected ${describe(label)} in label matching, expected label`, label);
        const op = this.next();
        if (op.kind !== 'operator' || !['=', '!=', '=~', '!~'].includes(op.text))
          this.fail(
            `unexpected ${describe(op)} in label matching, expected one of "=", "!=", "=~", "!~"`,
            op,
          );
        const value = this.next();
        if (value.kind !== 'string')
          this.fail(`unexpected ${describe(value)} in label matching, expected string`, value);
        if (label.text === '__name__' && nameToken)
          this.fail(
            `metric name must not be set twice: "${nameToken.text}" or ${JSON.stringify(value.text)}`,
            label,
          );
        matchers.push(this.matcher(label.text, op.text as MatchType, value));
        if (this.isPunct(',')) this.next();
        else if (!this.isPunct('}'))
          this.fail(`unexpected ${describe(this.peek())} in label matching, expected "," or "}"`);
      }
      this.next();
    }
    // Prometheus refuses a selector that would match every series: one matcher must need a value.
    if (!matchers.some((m) => !matches(m, '')))
      this.fail('vector selector must contain at least one non-empty matcher', { pos } as Token);
    return { kind: 'selector', matchers, offsetMs: 0, pos };
  }

  private matcher(name: string, type: MatchType, value: Token): Matcher {
    if (type === '=' || type === '!=') return { name, type, value: value.text };
    return { name, type, value: value.text, test: this.regexp(value) };
  }

  private regexp(token: Token): (value: string) => boolean {
    try {
      return compileRegexp(token.text);
    } catch (err) {
      if (!(err instanceof RegexpError)) throw err;
      return this.fail(
        `invalid regular expression ${JSON.stringify(token.text)}: ${err.message}`,
        token,
      );
    }
  }

  /** `[5m]`, `offset 5m`, and the modifiers loadstar refuses, after a primary expression. */
  private parsePostfix(expr: Expr): Expr {
    for (;;) {
      const token = this.peek();
      if (this.isPunct('[')) {
        this.next();
        const range = this.next();
        if (range.kind !== 'duration')
          this.fail(`unexpected ${describe(range)} in range, expected duration`, range);
        if (this.isPunct(':')) this.unsupported('a subquery', token);
        this.expectPunct(']', 'in range');
        if (expr.kind !== 'selector') this.fail('ranges only allowed for vector selectors', token);
        if (expr.offsetMs !== 0) this.fail('no offset modifiers allowed before range', token);
        if (range.value === 0) this.fail('range must be greater than zero', range);
        expr = { kind: 'range', selector: expr, rangeMs: range.value!, pos: expr.pos };
        continue;
      }
      if (this.isWord('offset')) {
        this.next();
        const sign = this.peek();
        if (sign.kind === 'operator' && sign.text === '-')
          this.unsupported('a negative offset', sign);
        if (sign.kind === 'operator' && sign.text === '+') this.next();
        const duration = this.next();
        if (duration.kind !== 'duration')
          this.fail(`unexpected ${describe(duration)} in offset, expected duration`, duration);
        const selector =
          expr.kind === 'range' ? expr.selector : expr.kind === 'selector' ? expr : null;
        if (!selector)
          this.fail(
            'offset modifier must be preceded by an instant vector selector or range vector selector',
            token,
          );
        if (selector.offsetMs !== 0) this.fail('offset may not be set multiple times', token);
        selector.offsetMs = duration.value!;
        continue;
      }
      if (this.isPunct('@')) this.unsupported('the @ modifier', token);
      return expr;
    }
  }
}

/** The depth of a tree, walked without recursion (the tree may be deep). */
function depthOf(root: Expr): number {
  let deepest = 0;
  const stack: [Expr, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [expr, depth] = stack.pop()!;
    deepest = Math.max(deepest, depth);
    const children: Expr[] =
      expr.kind === 'binary'
        ? [expr.lhs, expr.rhs]
        : expr.kind === 'unary' || expr.kind === 'paren'
          ? [expr.expr]
          : expr.kind === 'aggregate'
            ? [expr.expr, ...(expr.param ? [expr.param] : [])]
            : expr.kind === 'call'
              ? expr.args
              : expr.kind === 'range'
                ? [expr.selector]
                : [];
    for (const child of children) stack.push([child, depth + 1]);
  }
  return deepest;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'eof':
      return 'end of input';
    case 'string':
      return `string ${JSON.stringify(token.text)}`;
    case 'identifier':
      return `identifier "${token.text}"`;
    case 'number':
      return `number "${token.text}"`;
    case 'duration':
      return `duration "${token.text}"`;
    default:
      return `"${token.text}"`;
  }
}
