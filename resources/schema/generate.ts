import { API_GROUP, API_VERSION } from './common.js';
import type { KindDefinition } from './kinds.js';

type Json = Record<string, unknown>;

/** Schema keywords that structural CRD schemas reject or that only matter to editors. */
const DROPPED_FOR_CRD = new Set(['$id', '$schema', 'title', 'uniqueItems', 'additionalItems']);

/**
 * Rewrites a JSON Schema into the structural OpenAPI v3 subset that CRDs require: no
 * `additionalProperties: false` next to properties, `enum` instead of `const`, single
 * `items` schemas, and OpenAPI 3.0's boolean `exclusiveMinimum`.
 */
export function toStructural(schema: unknown): Json {
  const s = schema as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(s)) {
    if (DROPPED_FOR_CRD.has(key)) continue;
    if (key === 'additionalProperties') {
      if (value === false) continue;
      out.additionalProperties = typeof value === 'object' ? toStructural(value) : value;
    } else if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Json).map(([k, v]) => [k, toStructural(v)]),
      );
    } else if (key === 'items') {
      // Tuples (fixed-length arrays of one type here) become a single item schema.
      out.items = toStructural(Array.isArray(value) ? value[0] : value);
    } else if (key === 'const') {
      out.enum = [value];
    } else if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') {
      out[key === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = value;
      out[key] = true;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The CustomResourceDefinition of a kind, from the same schema that validates manifests. */
export function toCrd(def: KindDefinition): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'vmsctl' },
    },
    spec: {
      group: API_GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: ['vmsctl'],
      },
      scope: def.scope,
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: def.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toStructural(def.spec),
                status: toStructural(def.status),
              },
            },
          },
        },
      ],
    },
  };
}

/** JSON Schema (draft 2020-12 compatible) for editors, e.g. yaml-language-server. */
export function toEditorSchema(def: KindDefinition & { schema: unknown }): Json {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...JSON.parse(JSON.stringify(def.schema)),
    description: def.description,
  };
}
