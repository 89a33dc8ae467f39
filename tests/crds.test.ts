// Validates the generated CRDs and the example fleet with kube-apiserver's own
// validation code (tools/crd-validate, built by scripts/build-crd-validate.sh).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CONTROL_KINDS, KINDS } from '../resources/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const crdDir = 'manifests/crds';

interface Run {
  code: number;
  stdout: string;
}

let bin: string;
let work: string;

function validate(args: string[]): Run {
  try {
    const stdout = execFileSync(bin, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    if (e.status == null) throw err;
    return { code: e.status, stdout: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function yamlFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml') && !f.split(path.sep).includes('.github'))
    .map((f) => path.join(dir, f))
    .sort();
}

beforeAll(() => {
  // The first build downloads k8s.io modules and compiles them: minutes.
  const out = execFileSync('bash', [path.join(root, 'scripts/build-crd-validate.sh')], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  bin = out.trim().split('\n').at(-1)!;
  work = mkdtempSync(path.join(tmpdir(), 'vmsctl-crds-'));
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('CRDs as kube-apiserver validates them', () => {
  it('every generated CRD passes apiextensions validation (incl. structural schema)', () => {
    const crds = yamlFiles(crdDir);
    // One CRD per fleet kind and per control kind (FleetSync, EdgeBundle, EdgeRelease).
    expect(crds.map((f) => path.basename(f)).sort()).toEqual(
      [...KINDS, ...CONTROL_KINDS].map((k) => `${k.plural}.vmsctl.io.yaml`).sort(),
    );
    const run = validate(['crds', ...crds]);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(0);
  });

  it('every example fleet resource passes its CRD schema, with no prunable fields', () => {
    const files = yamlFiles('fleet');
    expect(files.length).toBeGreaterThan(0);
    const run = validate(['resources', '--crds', crdDir, ...files]);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(0);
  });

  it('rejects a CRD whose schema is not structural', () => {
    const crd = YAML.parse(readFileSync(path.join(root, crdDir, 'cameras.vmsctl.io.yaml'), 'utf8'));
    const main =
      crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.streams.properties
        .main;
    delete main.properties.fps.type;
    main.additionalProperties = false;
    const file = path.join(work, 'broken-crd.yaml');
    writeFileSync(file, YAML.stringify(crd, { aliasDuplicateObjects: false }));

    const run = validate(['crds', file]);
    expect(run.code).toBe(1);
    const prefix = `${file}: spec.validation.openAPIV3Schema.properties[spec].properties[streams].properties[main]`;
    expect(run.stdout).toContain(`${prefix}.properties[fps].type: Required value`);
    expect(run.stdout).toContain(
      `${prefix}.additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive`,
    );
  });

  it('rejects a Camera with a wrongly typed and an unknown field', () => {
    const docs = YAML.parseAllDocuments(
      readFileSync(path.join(root, 'fleet/tenants/acme/sites/hq/cameras.yaml'), 'utf8'),
    ).map((d) => d.toJS());
    const camera = docs[0];
    expect(camera.kind).toBe('Camera');
    camera.spec.streams.main.fps = 'fast';
    camera.spec.streams.main.frameRate = 25;
    const file = path.join(work, 'bad-camera.yaml');
    writeFileSync(file, docs.map((d) => `---\n${YAML.stringify(d)}`).join(''));

    const run = validate(['resources', '--crds', crdDir, file]);
    expect(run.code).toBe(1);
    const where = `${file}#0 Camera/${camera.metadata.name}`;
    expect(run.stdout).toContain(
      `${where}: spec.streams.main.fps: Invalid value: "string": spec.streams.main.fps in body must be of type number`,
    );
    expect(run.stdout).toContain(`${where}: spec.streams.main.frameRate: unknown field`);
    // Only the broken document is reported.
    expect(run.stdout).not.toMatch(/#[1-9]\d* /);
  });
});
