// Starts Swagger UI on the gateway's OpenAPI document. Every URL is relative to
// the page (<base>docs), so the page works under any WEB_SERVER_URL path and
// behind a proxy that adds a prefix; nothing is fetched from elsewhere.
/* global SwaggerUIBundle */

window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  // Swagger UI would otherwise send the document to swagger.io's online validator.
  validatorUrl: null,
});
