/**
 * Directory trees for the backup, restore and migration tests: SHA-256 of every file by relative
 * path (what "byte-identical" is checked against), and a tree of random files to back up.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** relative path → SHA-256 of each regular file under dir */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else if (e.isFile()) out[`${rel}${e.name}`] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/** `files` random files (half in sub/, sizes size…size+files-1) and one name with spaces; returns treeHashes */
export function fillTree(dir: string, files: number, size: number): Record<string, string> {
  mkdirSync(join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++) writeFileSync(join(dir, i % 2 ? `sub/f${i}.bin` : `f${i}.bin`), randomBytes(size + i));
  writeFileSync(join(dir, 'name with spaces.txt'), 'spaces are fine\n');
  return treeHashes(dir);
}
