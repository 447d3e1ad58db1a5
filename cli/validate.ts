/**
 * `mixmesh validate FILE…` (interfaces.md): stdout gets `FILE: valid` or one
 * `FILE:POINTER: message` line per problem. Exit 0 all valid, 1 any invalid (not YAML/JSON or too
 * large counts as invalid), 2 an unreadable file or a bad --config. Never contacts a cluster.
 */
import { open, readFile } from 'node:fs/promises';
import { MixmeshError } from '../common/errors.js';
import { DEFAULT_MESH_VALUES } from '../mesh-config/values.js';
import { formatResult, LIMITS, oversizeProblem, parseAndValidate, parseDescriptorText } from '../descriptor/index.js';

export interface ValidateCliOptions {
  config?: string;
}

export interface ValidateIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  readStdin: () => Promise<Buffer>;
}

const processIo: ValidateIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > LIMITS.inputBytes) break; // enough to know it is too large
    }
    return Buffer.concat(chunks);
  },
};

/** The sidecar version VMs default to: `istioVersion` (top level or under `mesh:`) of --config. */
async function istioVersionFrom(configPath: string | undefined): Promise<string> {
  if (configPath === undefined) return DEFAULT_MESH_VALUES.istioVersion;
  let text: Buffer;
  try {
    text = await readFile(configPath);
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `cannot read config file ${configPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const parsed = parseDescriptorText(text);
  if (!parsed.ok) throw new MixmeshError('CONFIG_INVALID', `config file ${configPath}: ${parsed.problems[0]!.message}`);
  const doc = parsed.value ?? {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new MixmeshError('CONFIG_INVALID', `config file ${configPath}: must be a YAML mapping`);
  const file = doc as Record<string, unknown>;
  const mesh = (typeof file.mesh === 'object' && file.mesh !== null ? file.mesh : {}) as Record<string, unknown>;
  const version = mesh.istioVersion ?? file.istioVersion ?? DEFAULT_MESH_VALUES.istioVersion;
  if (typeof version !== 'string' || version === '') throw new MixmeshError('CONFIG_INVALID', `config file ${configPath}: istioVersion must be a non-empty string`);
  return version;
}

/** Read a file, refusing to load one over the size limit into memory. */
async function readLimited(file: string): Promise<Buffer | { tooLarge: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > LIMITS.inputBytes) return { tooLarge: size };
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

export async function runValidate(files: string[], opts: ValidateCliOptions = {}, io: ValidateIo = processIo): Promise<number> {
  const istioVersion = await istioVersionFrom(opts.config);
  let invalid = false;
  let unreadable = false;
  for (const file of files) {
    let content: Buffer | { tooLarge: number };
    try {
      content = file === '-' ? await io.readStdin() : await readLimited(file);
    } catch (e) {
      io.stderr(`mixmesh: ${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      unreadable = true;
      continue;
    }
    const result = 'tooLarge' in content ? { ok: false as const, problems: [oversizeProblem(content.tooLarge)] } : parseAndValidate(content, file, { istioVersion });
    if (!result.ok) invalid = true;
    for (const line of formatResult(file, result)) io.stdout(line);
  }
  return unreadable ? 2 : invalid ? 1 : 0;
}
