// The build precompiles the schema validators (scripts/precompile-validators.ts); they must
// judge every document exactly as the validators compiled at run time do.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KINDS, type KindName } from '../resources/index.js';
import {
  createSchemaAjv,
  PRECOMPILED_VALIDATORS,
  schemaFingerprint,
} from '../resources/manifest/schema-validator.js';
import { exampleFiles } from './fixtures/fleet.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const precompiled = createRequire(import.meta.url)(
  path.join(root, 'dist/resources/manifest', PRECOMPILED_VALIDATORS),
) as Record<string, ValidateFunction> & { fingerprint: string };

function documents(): { kind: KindName; doc: Record<string, unknown> }[] {
  return exampleFiles()
    .filter((f) => f.path.endsWith('.yaml') && !f.path.startsWith('.github'))
    .flatMap((f) => f.text.split(/^---\n/m).map((t) => parse(t) as Record<string, unknown>))
    .map((doc) => ({ kind: doc.kind as KindName, doc }));
}

/** Broken variants of a document: wrong types, unknown fields, bad enums and formats. */
function breakages(doc: Record<string, unknown>): Record<string, unknown>[] {
  const spec = doc.spec as Record<string, unknown>;
  return [
    { ...doc, spec: { ...spec, displayName: 42 } },
    { ...doc, spec: { ...spec, surprise: true } },
    { ...doc, metadata: { name: 'Not A Name' } },
    { ...doc, spec: Object.fromEntries(Object.entries(spec).slice(1)) },
    {
      ...doc,
      spec: JSON.parse(
        JSON.stringify(spec)
          .replace(/"H264"/g, '"VP9"')
          .replace(/"2030-12-31"/g, '"soon"'),
      ),
    },
  ];
}

describe('precompiled schema validators', () => {
  it('are built from the current schemas', () => {
    expect(precompiled.fingerprint).toBe(schemaFingerprint());
  });

  it('report exactly what run-time compiled validators report', () => {
    const compiled = new Map(KINDS.map((k) => [k.kind, createSchemaAjv().compile(k.schema)]));
    let checked = 0;
    for (const { kind, doc } of documents()) {
      for (const variant of [doc, ...breakages(doc)]) {
        const a = compiled.get(kind)!;
        const b = precompiled[kind]!;
        expect(b(variant), `${kind} validity`).toBe(a(variant));
        const strip = (errors: typeof a.errors) =>
          (errors ?? []).map(({ instancePath, keyword, params, message }) => ({
            instancePath,
            keyword,
            params,
            message,
          }));
        expect(strip(b.errors)).toEqual(strip(a.errors));
        checked++;
      }
    }
    expect(checked).toBe(16 * 6);
  });
});
