// The dashboard: a static page (gateway/dashboard/, plain JavaScript modules
// served as they are, no build step) with uPlot from node_modules, and its live
// feed of samples (SSE).
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type Koa from 'koa';
import { InputError } from '../../proto/sample.ts';
import { parseHostParam, parseTopics } from '../read.ts';
import { streamSamples } from '../stream.ts';
import type { RouteGroup } from './context.ts';

interface Asset {
  body: Buffer;
  type: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

const page = new URL('../dashboard/', import.meta.url);
const uplot = new URL('../../node_modules/uplot/dist/', import.meta.url);

/**
 * Read once at start: the files are small, and a page never changes under a
 * running gateway. Every file of gateway/dashboard/ is served under its own name
 * (the page's scripts are modules that import each other), uPlot beside them.
 */
function readAssets(): Record<string, Asset> {
  const assets: Record<string, Asset> = {};
  for (const name of readdirSync(page)) {
    const type = TYPES[extname(name)];
    if (type) assets[name] = { body: readFileSync(new URL(name, page)), type };
  }
  assets['uplot.js'] = {
    body: readFileSync(new URL('uPlot.iife.min.js', uplot)),
    type: TYPES['.js']!,
  };
  assets['uplot.css'] = {
    body: readFileSync(new URL('uPlot.min.css', uplot)),
    type: TYPES['.css']!,
  };
  return assets;
}
const assets = readAssets();

function send(ctx: Koa.Context, asset: Asset): void {
  ctx.status = 200;
  ctx.type = asset.type;
  ctx.set('Cache-Control', 'no-cache');
  ctx.body = asset.body;
}

/** A browser asking the bare URL gets the dashboard; every JSON client keeps the contract. */
export function wantsDashboard(ctx: Koa.Context): boolean {
  return ctx.query.topics === undefined && /\btext\/html\b/.test(ctx.get('Accept'));
}

export function serveDashboard(ctx: Koa.Context): void {
  send(ctx, assets['index.html']!);
}

export const dashboardRoutes: RouteGroup = (router, { base, feed, recording, maxTopics }) => {
  router.get(`${base}dashboard/:file`, (ctx) => {
    const asset = Object.hasOwn(assets, ctx.params.file!) ? assets[ctx.params.file!] : undefined;
    if (!asset)
      throw new InputError(
        `no dashboard file ${JSON.stringify(ctx.params.file)}`,
        404,
        'not_found',
      );
    send(ctx, asset);
  });

  router.get(`${base}api/v1/stream`, (ctx) => {
    const host = parseHostParam(ctx.query.host);
    if (host === undefined) throw new InputError("query parameter 'host' is required");
    const metrics =
      ctx.query.metric === undefined ? null : parseTopics(ctx.query.metric, maxTopics, 'metric');
    streamSamples(ctx, feed, () => recording.current(), host, metrics);
  });
};
