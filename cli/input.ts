/**
 * Reading a descriptor for `validate` and `render`: a file or standard input (`-`), never loading
 * more than the size limit into memory (docs/descriptor.md rule 10: 4 MiB).
 */
import { open } from 'node:fs/promises';
import { LIMITS } from '../descriptor/index.js';

export type LimitedInput = Buffer | { tooLarge: number };

/** A file's bytes, or its size when it is over the limit. Open and read errors are thrown as they are. */
export async function readLimitedFile(file: string): Promise<LimitedInput> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size > LIMITS.inputBytes) return { tooLarge: size };
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Standard input's bytes, or what was read when it passed the limit (enough to know). */
export async function readLimitedStdin(): Promise<LimitedInput> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > LIMITS.inputBytes) return { tooLarge: size };
  }
  return Buffer.concat(chunks);
}
