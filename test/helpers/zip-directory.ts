/** A directory as a zip (stored entries, symlinks followed), for tests that need the sample package as a CSAR. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeZip, type ZipEntry } from '../../sandbox/openstack/index.js';

export function zipDirectory(root: string, skip: (relPath: string) => boolean = () => false): Buffer {
  const entries: ZipEntry[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(root, path).split('\\').join('/');
      if (skip(rel)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else entries.push({ name: rel, data: readFileSync(path) });
    }
  };
  walk(root);
  return writeZip(entries);
}
