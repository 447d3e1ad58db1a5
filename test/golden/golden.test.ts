/**
 * Golden files for every generator: `test/golden/<case>/input.yaml` (or an example under examples/)
 * → `expected.yaml` (renderAll) and, when the case has VMs, `tacker.json` (planTackerRequests).
 * An optional `values.yaml` holds mesh values. `UPDATE_GOLDEN=1` rewrites the expected files; the
 * diff is read in review. Every case also runs the istioctl-analyze checks.
 * (`vm-scripts/` is vm-scripts.test.ts's: the VM install scripts.)
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseAndValidate, formatResult } from '../../descriptor/index.js';
import { renderAll } from '../../mesh-config/index.js';
import { DEFAULT_MESH_VALUES, type MeshValues } from '../../descriptor/index.js';
import { planTackerRequests } from '../../mesh-config/index.js';
import { toJson, toYamlStream } from '../../common/yaml.js';
import { analyze } from '../helpers/analyze.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Cases whose input is a descriptor another part owns. */
const EXAMPLES: Record<string, string> = {
  'examples-iot-cafe': 'examples/iot-cafe/descriptor.yaml',
  'examples-minimal': 'examples/minimal/descriptor.yaml',
};

function inputOf(name: string): string | undefined {
  const own = join(HERE, name, 'input.yaml');
  if (existsSync(own)) return own;
  const example = EXAMPLES[name];
  return example && existsSync(join(ROOT, example)) ? join(ROOT, example) : undefined;
}

function valuesOf(name: string): MeshValues {
  const file = join(HERE, name, 'values.yaml');
  if (!existsSync(file)) return DEFAULT_MESH_VALUES;
  const given = parse(readFileSync(file, 'utf8')) as Partial<MeshValues>;
  return { ...DEFAULT_MESH_VALUES, ...given, ingressGateway: { ...DEFAULT_MESH_VALUES.ingressGateway, ...given.ingressGateway } };
}

function compare(file: string, actual: string): void {
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) assert.fail(`${file} is missing; run with UPDATE_GOLDEN=1 and review it`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 rewrites it)`);
}

const cases = [...new Set([...readdirSync(HERE, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'vm-scripts').map((d) => d.name), ...Object.keys(EXAMPLES)])].sort();

describe('golden: descriptor → mesh config', () => {
  it('covers the spec example, both examples and every generator', () => {
    for (const required of ['spec-example', 'examples-iot-cafe', 'examples-minimal']) assert.ok(cases.includes(required), required);
    const kinds = new Set<string>();
    for (const name of cases) {
      const file = join(HERE, name, 'expected.yaml');
      if (existsSync(file)) for (const m of readFileSync(file, 'utf8').matchAll(/^kind: (\w+)$/gm)) kinds.add(m[1]!);
    }
    assert.deepEqual([...kinds].sort(), ['AuthorizationPolicy', 'Deployment', 'DestinationRule', 'Gateway', 'Namespace', 'PeerAuthentication', 'Service', 'ServiceAccount', 'VirtualService', 'WorkloadGroup']);
  });

  for (const name of cases) {
    describe(name, () => {
      const input = inputOf(name);
      if (!input) {
        it('has an input', () => assert.fail(`test/golden/${name}: no input.yaml and no example to read`));
        return;
      }
      const result = parseAndValidate(readFileSync(input), input);
      const service = result.ok ? result.value : undefined;

      it('input is a valid descriptor', () => {
        assert.ok(result.ok, formatResult(input, result).join('\n'));
      });

      it('renders expected.yaml, byte for byte, twice', () => {
        assert.ok(service);
        const values = valuesOf(name);
        const text = toYamlStream(renderAll(service, values));
        assert.equal(toYamlStream(renderAll(service, values)), text, 'not deterministic');
        compare(join(HERE, name, 'expected.yaml'), text);
      });

      const plans = service ? planTackerRequests(service, valuesOf(name)) : [];
      const tackerFile = join(HERE, name, 'tacker.json');
      if (plans.length > 0 || existsSync(tackerFile)) {
        it('plans the Tacker requests in tacker.json', () => {
          compare(tackerFile, toJson(plans));
        });
      }

      it('passes the istioctl analyze checks', () => {
        assert.ok(service);
        assert.deepEqual(analyze(renderAll(service, valuesOf(name))), []);
      });
    });
  }
});
