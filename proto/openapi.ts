// Reads proto/openapi.yaml, the OpenAPI document of every HTTP endpoint of the receiver and
// the gateway, and places it as each service's settings say. The file is the contract: a new or changed
// endpoint is written there, never here. This only moves what the settings move.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * Where the file places the services: the gateway at `/` (WEB_SERVER_URL's path), samples
 * taken at `/data` (RECEIVER_URL's path), answered by the servers these descriptions name.
 */
const FILE_RECEIVER_PATH = '/data';
const GATEWAY = 'gateway (WEB_SERVER_URL)';
const RECEIVER = 'receiver (RECEIVER_URL)';
/**
 * The file's examples are times around this instant (2026-12-01T00:00:00Z). They are moved to
 * the present when served, so that the receiver accepts the request examples as they are
 * ("Try it out", and the tests post them) within SAMPLE_MAX_AGE.
 */
const EXAMPLES_AT = Date.UTC(2026, 11, 1);
/** Numbers and ISO times this close to EXAMPLES_AT are example times (the file's reach 2 days). */
const EXAMPLES_SPAN_MS = 30 * 86_400_000;

interface Server {
  url: string;
  description?: string;
}
interface Operation {
  operationId: string;
  summary?: string;
  servers?: Server[];
  [key: string]: unknown;
}
type PathItem = Record<string, Operation>;
export interface OpenApiFile {
  info: { version: string; [key: string]: unknown };
  servers: Server[];
  paths: Record<string, PathItem>;
  [key: string]: unknown;
}

let file: OpenApiFile | undefined;

/**
 * The file, parsed when first asked for: parsing 4,500 lines of YAML grows a
 * service's heap by some 30 MB, which a service nobody asks for its document
 * should not carry.
 */
function openApiFile(): OpenApiFile {
  if (file) return file;
  file = parse(readFileSync(new URL('./openapi.yaml', import.meta.url), 'utf8')) as OpenApiFile;
  // The document's version is the package's, as before it was a file.
  file.info.version = (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;
  return file;
}

export interface DocumentOptions {
  /** Where each service answers (origins); '/' is the origin the document was fetched from. */
  servers?: { gateway?: string[]; receiver?: string[] };
  /** The clock the examples' times follow. */
  now?: number;
}

/**
 * The document for a gateway at `base` (the path of WEB_SERVER_URL, ending in '/') and a
 * receiver taking samples at `receiverPath` (the path of RECEIVER_URL).
 */
export function openApiDocument(
  base: string,
  receiverPath: string,
  options: DocumentOptions = {},
): OpenApiFile {
  const gatewayServers = (options.servers?.gateway ?? ['/']).map((url) => ({
    url,
    description: GATEWAY,
  }));
  const receiverServers = (options.servers?.receiver ?? ['http://localhost:8090']).map((url) => ({
    url,
    description: RECEIVER,
  }));
  const paths: Record<string, PathItem> = {};
  const place = (path: string, method: string, operation: Operation) => {
    paths[path] ??= {};
    if (paths[path][method]) {
      throw new Error(
        `${method.toUpperCase()} ${path} belongs to two endpoints: give RECEIVER_URL and WEB_SERVER_URL paths apart`,
      );
    }
    paths[path][method] = operation;
  };
  const source = openApiFile();
  for (const [path, item] of Object.entries(source.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const answeredBy = new Set(operation.servers?.map((s) => s.description));
      if (!answeredBy.has(RECEIVER)) {
        place(`${base}${path.slice(1)}`, method, operation);
      } else if (!answeredBy.has(GATEWAY)) {
        // The sample endpoints follow RECEIVER_URL's path; the others have fixed paths.
        const placed = path.startsWith(FILE_RECEIVER_PATH)
          ? receiverPath.replace(/\/$/, '') + path.slice(FILE_RECEIVER_PATH.length) || '/'
          : path;
        place(placed, method, { ...operation, servers: receiverServers });
      } else if (base === '/') {
        // Both services answer it at the root (health, metrics, this document).
        place(path, method, { ...operation, servers: [...gatewayServers, ...receiverServers] });
      } else {
        // Apart, the gateway answers it under its base and the receiver at its root.
        const apart = (who: 'gateway' | 'receiver'): Operation => {
          const { servers: _both, ...rest } = operation;
          const id = operation.operationId;
          return {
            ...rest,
            operationId: `${who}${id[0]!.toUpperCase()}${id.slice(1)}`,
            summary: operation.summary?.replace('(gateway and receiver)', `(${who})`),
            ...(who === 'receiver' ? { servers: receiverServers } : {}),
          };
        };
        place(`${base}${path.slice(1)}`, method, apart('gateway'));
        place(path, method, apart('receiver'));
      }
    }
  }
  const now = options.now ?? Date.now();
  // Whole minutes, so that the examples' one-minute buckets stay on the minute.
  const shift = Math.floor((now - EXAMPLES_AT) / 60_000) * 60_000;
  return redate({ ...source, servers: gatewayServers, paths }, shift) as OpenApiFile;
}

const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g;
const EPOCH = /\b\d{10}(?:\d{3})?\b/g;

/** A copy of `value` with every example time in it (ms, s or ISO, also inside text) moved by `shift` ms. */
function redate(value: unknown, shift: number): unknown {
  if (typeof value === 'number') return redateNumber(value, shift);
  if (typeof value === 'string') {
    return value
      .replace(ISO_TIME, (iso) => {
        const ms = Date.parse(iso);
        return Math.abs(ms - EXAMPLES_AT) < EXAMPLES_SPAN_MS
          ? new Date(ms + shift).toISOString()
          : iso;
      })
      .replace(EPOCH, (digits) => String(redateNumber(Number(digits), shift)));
  }
  if (Array.isArray(value)) return value.map((item) => redate(item, shift));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redate(v, shift)]));
  }
  return value;
}

function redateNumber(n: number, shift: number): number {
  if (Math.abs(n - EXAMPLES_AT) < EXAMPLES_SPAN_MS) return n + shift;
  if (Math.abs(n - EXAMPLES_AT / 1000) < EXAMPLES_SPAN_MS / 1000) return n + shift / 1000;
  return n;
}
