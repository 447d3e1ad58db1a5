/**
 * `--config F` of `validate` and `render`: the mesh values (docs/configuration.md), read
 * the same way by both. Light on purpose: `validate` must not load the generators.
 */
import { readFile } from 'node:fs/promises';
import { MixmeshError } from '../common/errors.js';
import { parseDescriptorText } from '../descriptor/index.js';
import { DEFAULT_MESH_VALUES, parseMeshValues, type MeshValues } from '../descriptor/index.js';

/** `--config F`: mesh values YAML; unreadable or unknown keys are configuration errors (exit 2). */
export async function loadMeshValues(configPath: string | undefined): Promise<MeshValues> {
  if (configPath === undefined) return structuredClone(DEFAULT_MESH_VALUES) as MeshValues;
  let text: Buffer;
  try {
    text = await readFile(configPath);
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `cannot read config file ${configPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const parsed = parseDescriptorText(text);
  if (!parsed.ok) throw new MixmeshError('CONFIG_INVALID', `config file ${configPath}: ${parsed.problems[0]!.message}`);
  const values = parseMeshValues(parsed.value);
  if (!values.ok) {
    throw new MixmeshError('CONFIG_INVALID', `config file ${configPath}: ${values.problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join('; ')}`, { errors: values.problems });
  }
  return values.value;
}

