/**
 * `mixmesh validate FILE…` (interfaces.md): stdout gets `FILE: valid` or one
 * `FILE:POINTER: message` line per problem. Exit 0 all valid, 1 any invalid (not YAML/JSON or too
 * large counts as invalid), 2 an unreadable file or a bad --config. Never contacts a cluster.
 */
import { open } from 'node:fs/promises';
import { formatResult, LIMITS, oversizeProblem, parseAndValidate } from '../descriptor/index.js';
import { loadMeshValues } from './mesh-values.js';

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

/** The sidecar version VMs default to: `istioVersion` of the mesh values in --config. */
async function istioVersionFrom(configPath: string | undefined): Promise<string> {
  return (await loadMeshValues(configPath)).istioVersion;
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
