/**
 * mixmesh's own version (package.json), read once: from the checkout (`tsx`) or from `dist/`,
 * whichever holds this file. Used by `mixmesh version`, `GET /version` and `mixmesh_build_info`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  /** the Node.js runtime, e.g. v20.19.0 */
  nodeVersion: string;
  platform: string;
}

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  let version = 'unknown';
  // common/ in a checkout, dist/common/ when compiled: walk up to mixmesh's package.json
  for (let i = 0; i < 4; i += 1) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mixmesh' && typeof pkg.version === 'string') {
        version = pkg.version;
        break;
      }
    }
    dir = dirname(dir);
  }
  cached = Object.freeze({ version, nodeVersion: process.version, platform: `${process.platform}/${process.arch}` });
  return cached;
}
