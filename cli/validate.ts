/**
 * `mixmesh validate FILE…` (docs/cli.md): stdout gets `FILE: valid` or one
 * `FILE:POINTER: message` line per problem — every problem of a file in one run, schema and
 * semantic alike; a problem with a place in the text but no pointer (a YAML syntax error) is
 * `FILE:LINE:COL: message`, as compilers and linters print it. Exit 0 all valid, 1 any invalid (not YAML/JSON or too
 * large counts as invalid), 2 an unreadable file or a bad --config. Never contacts a cluster.
 */
import { formatResult, oversizeProblem, parseAndValidate, type ValidationResult } from '../descriptor/index.js';
import { readLimitedFile, readLimitedStdin, type LimitedInput } from './input.js';
import { loadMeshValues } from './mesh-values.js';

export interface ValidateCliOptions {
  config?: string;
}

export interface ValidateIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  readStdin: () => Promise<LimitedInput>;
}

const processIo: ValidateIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  readStdin: readLimitedStdin,
};

/** The sidecar version VMs default to: `istioVersion` of the mesh values in --config. */
async function istioVersionFrom(configPath: string | undefined): Promise<string> {
  return (await loadMeshValues(configPath)).istioVersion;
}

export async function runValidate(files: string[], opts: ValidateCliOptions = {}, io: ValidateIo = processIo): Promise<number> {
  const istioVersion = await istioVersionFrom(opts.config);
  let invalid = false;
  let unreadable = false;
  for (const file of files) {
    let content: Buffer | { tooLarge: number };
    try {
      content = file === '-' ? await io.readStdin() : await readLimitedFile(file);
    } catch (e) {
      io.stderr(`mixmesh: ${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      unreadable = true;
      continue;
    }
    const result = 'tooLarge' in content ? { ok: false as const, problems: [oversizeProblem(content.tooLarge)] } : parseAndValidate(content, file, { istioVersion });
    if (!result.ok) invalid = true;
    for (const line of problemLines(file, result)) io.stdout(line);
  }
  return unreadable ? 2 : invalid ? 1 : 0;
}

/** the parser's "… at line L, column C" on a document-level problem becomes FILE:L:C: … */
export function problemLines(file: string, result: ValidationResult): string[] {
  if (result.ok) return formatResult(file, result);
  return result.problems.map((p) => {
    const m = p.pointer === '' ? / at line (\d+), column (\d+)$/.exec(p.message) : null;
    return m ? `${file}:${m[1]}:${m[2]}: ${p.message.slice(0, m.index)}` : `${file}:${p.pointer}: ${p.message}`;
  });
}
