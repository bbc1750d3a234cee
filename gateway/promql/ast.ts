// The parsed form of a PromQL query: what the parser builds and the engine
// evaluates. Only constructs loadstar evaluates have a node; the parser refuses
// the rest by name.

/** What an expression yields: a number, one value per series at an instant, or a window of values per series. */
export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

export type MatchType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  type: MatchType;
  value: string;
  /** For =~ and !~: whether a whole value matches the expression (anchored at both ends, as in PromQL). */
  test?: (value: string) => boolean;
}

export function matches(matcher: Matcher, value: string): boolean {
  switch (matcher.type) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return matcher.test!(value);
    case '!~':
      return !matcher.test!(value);
  }
}

export interface NumberNode {
  kind: 'number';
  value: number;
  pos: number;
}

export interface StringNode {
  kind: 'string';
  value: string;
  pos: number;
}

/** An instant vector selector: `load_1{host="web-01"} offset 5m`. */
export interface SelectorNode {
  kind: 'selector';
  /** Every matcher, the metric name's included (as a __name__ matcher). */
  matchers: Matcher[];
  offsetMs: number;
  pos: number;
}

/** A range vector selector: `load_1[5m] offset 1h`. */
export interface RangeNode {
  kind: 'range';
  selector: SelectorNode;
  rangeMs: number;
  pos: number;
}

export interface CallNode {
  kind: 'call';
  func: string;
  args: Expr[];
  pos: number;
}

export type AggregateOp = 'sum' | 'avg' | 'min' | 'max' | 'count' | 'topk' | 'bottomk';

export interface AggregateNode {
  kind: 'aggregate';
  op: AggregateOp;
  /** k of topk and bottomk. */
  param?: Expr;
  expr: Expr;
  /** The labels of `by (...)` or `without (...)`. */
  grouping: string[];
  without: boolean;
  pos: number;
}

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '^';
export type ComparisonOp = '==' | '!=' | '>' | '<' | '>=' | '<=';
export type SetOp = 'and' | 'or' | 'unless';
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;

export interface BinaryNode {
  kind: 'binary';
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  /** `bool`: a comparison answers 0 or 1 instead of filtering. */
  bool: boolean;
  /** `on (...)` or `ignoring (...)` between two vectors; absent: all labels but the name. */
  matching?: { on: boolean; labels: string[] };
  pos: number;
}

export interface UnaryNode {
  kind: 'unary';
  op: '-' | '+';
  expr: Expr;
  pos: number;
}

export interface ParenNode {
  kind: 'paren';
  expr: Expr;
  pos: number;
}

export type Expr =
  | NumberNode
  | StringNode
  | SelectorNode
  | RangeNode
  | CallNode
  | AggregateNode
  | BinaryNode
  | UnaryNode
  | ParenNode;

export const COMPARISON_OPS: ReadonlySet<string> = new Set(['==', '!=', '>', '<', '>=', '<=']);
export const SET_OPS: ReadonlySet<string> = new Set(['and', 'or', 'unless']);

/** What a function loadstar evaluates takes and gives. */
export interface FunctionSignature {
  args: ValueType[];
  returns: ValueType;
}

/** The functions loadstar evaluates. */
export const FUNCTIONS: Readonly<Record<string, FunctionSignature>> = {
  avg_over_time: { args: ['matrix'], returns: 'vector' },
  min_over_time: { args: ['matrix'], returns: 'vector' },
  max_over_time: { args: ['matrix'], returns: 'vector' },
  sum_over_time: { args: ['matrix'], returns: 'vector' },
  count_over_time: { args: ['matrix'], returns: 'vector' },
  last_over_time: { args: ['matrix'], returns: 'vector' },
  rate: { args: ['matrix'], returns: 'vector' },
  irate: { args: ['matrix'], returns: 'vector' },
  increase: { args: ['matrix'], returns: 'vector' },
  abs: { args: ['vector'], returns: 'vector' },
  scalar: { args: ['vector'], returns: 'scalar' },
  vector: { args: ['scalar'], returns: 'vector' },
  time: { args: [], returns: 'scalar' },
};

/** PromQL's other functions (Prometheus 2.42): refused by name, never misread as a metric. */
export const OTHER_FUNCTIONS: ReadonlySet<string> = new Set(
  (
    'absent absent_over_time acos acosh asin asinh atan atanh ceil changes clamp clamp_max ' +
    'clamp_min cos cosh day_of_month day_of_week day_of_year days_in_month deg delta deriv exp ' +
    'floor histogram_count histogram_fraction histogram_quantile histogram_sum holt_winters hour ' +
    'idelta label_join label_replace ln log10 log2 minute month pi predict_linear ' +
    'present_over_time quantile_over_time rad resets round sgn sin sinh sort sort_desc sqrt ' +
    'stddev_over_time stdvar_over_time tan tanh timestamp year'
  ).split(' '),
);

/** The type an expression yields, known once it is parsed. */
export function typeOf(expr: Expr): ValueType {
  switch (expr.kind) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'selector':
      return 'vector';
    case 'range':
      return 'matrix';
    case 'call':
      return FUNCTIONS[expr.func]!.returns;
    case 'aggregate':
      return 'vector';
    case 'binary':
      return typeOf(expr.lhs) === 'scalar' && typeOf(expr.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'unary':
    case 'paren':
      return typeOf(expr.expr);
  }
}
