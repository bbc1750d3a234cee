// Serves the OpenAPI document at <base>openapi.json with the interactive docs
// at <base>docs (Swagger UI from node_modules, never a CDN). Reads its files once,
// when the docs are first asked for: Swagger UI is 2 MB a gateway need not hold unasked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Koa from 'koa';
import getAbsoluteFSPath from 'swagger-ui-dist/absolute-path.js';
import { sendJson } from '../../deploy/runtime/http.ts';
import { openApiDocument } from '../../proto/openapi.ts';
import { InputError } from '../../proto/sample.ts';
import type { RouteGroup } from '../routes/context.ts';

interface Asset {
  body: Buffer;
  type: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The page and what it loads: Swagger UI's own files, and the few lines that start it. */
function docsAssets(): { page: Asset; files: Record<string, Asset> } {
  const swaggerUi = getAbsoluteFSPath();
  const vendor = (file: string, type: string): Asset => ({
    body: readFileSync(join(swaggerUi, file)),
    type,
  });
  return {
    page: {
      body: readFileSync(new URL('docs.html', import.meta.url)),
      type: 'text/html; charset=utf-8',
    },
    files: {
      'swagger-ui.css': vendor('swagger-ui.css', CSS),
      'index.css': vendor('index.css', CSS),
      'swagger-ui-bundle.js': vendor('swagger-ui-bundle.js', JS),
      'favicon-32x32.png': vendor('favicon-32x32.png', 'image/png'),
      'docs.js': { body: readFileSync(new URL('docs.js', import.meta.url)), type: JS },
    },
  };
}

function send(ctx: Koa.Context, asset: Asset): void {
  ctx.status = 200;
  ctx.type = asset.type;
  ctx.set('Cache-Control', 'no-cache');
  ctx.body = asset.body;
}

export const openapiRoutes: RouteGroup = (router, { base, receiverUrls: receivers }) => {
  let assets: ReturnType<typeof docsAssets> | undefined;
  const docs = () => {
    assets ??= docsAssets();
    return assets;
  };

  // Placed per request: the examples' times follow the clock, so "Try it out" posts pass the age checks.
  router.get(`${base}openapi.json`, (ctx) => {
    const document = openApiDocument(base, receivers[0]!.pathname, {
      servers: { gateway: ['/'], receiver: receivers.map((url) => url.origin) },
    });
    sendJson(ctx, 200, document);
  });

  router.get(`${base}docs`, (ctx) => {
    // The page's links are relative to <base>docs; from <base>docs/ they would miss.
    if (ctx.path.endsWith('/')) {
      ctx.redirect('../docs');
      return;
    }
    send(ctx, docs().page);
  });

  router.get(`${base}docs/:file`, (ctx) => {
    const { files } = docs();
    const file = Object.hasOwn(files, ctx.params.file!) ? files[ctx.params.file!] : undefined;
    if (!file)
      throw new InputError(`no docs file ${JSON.stringify(ctx.params.file)}`, 404, 'not_found');
    send(ctx, file);
  });
};
