// The part of OpenAPI 3.1 that loadstar's document uses, as types, so that a
// misspelt field is a type error rather than a silently ignored key.

/** A JSON Schema (2020-12, as OpenAPI 3.1 takes it) limited to the keywords we use. */
export interface Schema {
  $ref?: string;
  type?: JsonType | JsonType[];
  description?: string;
  format?: 'date-time' | 'int64' | 'binary';
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  minProperties?: number;
  items?: Schema | false;
  prefixItems?: Schema[];
  minItems?: number;
  maxItems?: number;
  enum?: readonly (string | number | null)[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  not?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
  default?: unknown;
}

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

/** A pointer into the document; in 3.1 its description overrides the target's. */
export interface Reference {
  $ref: string;
  description?: string;
}

export interface Server {
  url: string;
  description?: string;
}

export interface Example {
  summary?: string;
  value: unknown;
}

export interface MediaType {
  schema?: Schema;
  examples?: Record<string, Example>;
}

export interface Header {
  description?: string;
  required?: boolean;
  schema: Schema;
  example?: unknown;
}

export interface Parameter {
  name: string;
  in: 'query' | 'header' | 'path';
  description?: string;
  required?: boolean;
  schema: Schema;
  example?: unknown;
}

export interface RequestBody {
  description?: string;
  required?: boolean;
  content: Record<string, MediaType>;
}

export interface Response {
  description: string;
  headers?: Record<string, Header | Reference>;
  content?: Record<string, MediaType>;
}

/** Alternatives: any one of them lets a request through; `{}` means none is needed. */
export type SecurityRequirement = Record<string, string[]>;

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: (Parameter | Reference)[];
  requestBody?: RequestBody;
  responses: Record<string, Response | Reference>;
  security?: SecurityRequirement[];
  /** Where this operation is served, when not at the document's servers. */
  servers?: Server[];
}

export type Method = 'get' | 'post' | 'delete';

export type PathItem = Partial<Record<Method, Operation>>;

export interface SecurityScheme {
  type: 'http';
  scheme: 'bearer';
  description?: string;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  servers: Server[];
  tags: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, Schema>;
    parameters: Record<string, Parameter>;
    headers: Record<string, Header>;
    securitySchemes: Record<string, SecurityScheme>;
  };
}
