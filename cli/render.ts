/**
 * `mixmesh render FILE [-o DIR] [--format yaml|json] [--config F]` (docs/cli.md; FILE `-` is stdin): every generated
 * Kubernetes/Istio object as one YAML stream (or a JSON `List`) on stdout; with `-o DIR`, files:
 * kubernetes.yaml, mesh.yaml, tacker/<vnfInstanceName>.json, vm/<name>-<version>/{cluster.env,
 * mesh.yaml,hosts} (templates with ${VM_ADDRESS} / ${EASTWEST_IP}; no token, no root cert).
 * Never contacts a cluster. Exit 0 ok, 1 invalid descriptor, 2 usage/config/unreadable file.
 */
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MixmeshError } from '../common/errors.js';
import { toJson } from '../common/yaml.js';
import { formatResult, oversizeProblem, parseAndValidate } from '../descriptor/index.js';
import type { MeshService } from '../descriptor/index.js';
import { fastYamlStream, KUBERNETES_KINDS, renderAll, type RenderedObject } from '../mesh-config/index.js';
import type { MeshValues } from '../descriptor/index.js';
import { readLimitedFile, readLimitedStdin, type LimitedInput } from './input.js';
import { loadMeshValues } from './mesh-values.js';

export { loadMeshValues };
import { planTackerRequests } from '../mesh-config/index.js';
// the bundle's own index: the injector's package index also loads the SSH client (~1 s of start-up)
import { bundle, type WorkloadGroupLike } from '../vm-sidecar-injector/bundle/index.js';

export interface RenderCliOptions {
  output?: string;
  format?: string;
  config?: string;
}

export interface RenderIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: RenderIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** The descriptor's bytes (`-` is standard input), refusing to load one over the size limit. */
async function readDescriptor(file: string): Promise<LimitedInput> {
  if (file === '-') return readLimitedStdin();
  try {
    return await readLimitedFile(file);
  } catch (e) {
    throw new MixmeshError('USAGE', `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** The files of `-o DIR`, as relative path → content. Pure. */
export function outputFiles(service: MeshService, objects: readonly RenderedObject[], values: MeshValues): Map<string, string> {
  const files = new Map<string, string>();
  files.set('kubernetes.yaml', fastYamlStream(objects.filter((o) => KUBERNETES_KINDS.has(o.kind))));
  files.set('mesh.yaml', fastYamlStream(objects.filter((o) => !KUBERNETES_KINDS.has(o.kind))));
  for (const plan of planTackerRequests(service, values)) {
    files.set(`tacker/${plan.vnfInstanceName}.json`, toJson({ create: plan.create, instantiate: plan.instantiate }));
  }
  const sshPorts = new Map(service.spec.microservices.filter((m) => m.vm).map((m) => [`${m.name}-${m.version}`, m.vm!.ssh.port]));
  for (const wg of objects.filter((o) => o.kind === 'WorkloadGroup')) {
    const name = wg.metadata.name;
    const { files: b } = bundle(wg as unknown as WorkloadGroupLike, values, null, null, { sshPort: sshPorts.get(name) ?? 22 });
    files.set(`vm/${name}/cluster.env`, b.clusterEnv);
    files.set(`vm/${name}/mesh.yaml`, b.meshYaml);
    files.set(`vm/${name}/hosts`, b.hosts);
  }
  return files;
}

/** Remove what an earlier render wrote into tacker/ and vm/, so no stale request survives. */
async function clearOwnFiles(dir: string): Promise<void> {
  const tacker = join(dir, 'tacker');
  for (const f of await readdir(tacker).catch(() => [] as string[])) if (f.endsWith('.json')) await rm(join(tacker, f));
  const vm = join(dir, 'vm');
  for (const d of await readdir(vm).catch(() => [] as string[])) {
    for (const f of ['cluster.env', 'mesh.yaml', 'hosts']) await rm(join(vm, d, f), { force: true });
    await rmdirIfEmpty(join(vm, d));
  }
}

async function rmdirIfEmpty(path: string): Promise<void> {
  // rmdir refuses a non-empty directory: exactly "remove if empty"
  await rmdir(path).catch(() => undefined);
}

export async function runRender(file: string, opts: RenderCliOptions = {}, io: RenderIo = processIo): Promise<number> {
  const format = opts.format ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') throw new MixmeshError('USAGE', `--format must be yaml or json, not "${format}"`);
  const values = await loadMeshValues(opts.config);
  const content = await readDescriptor(file);
  if ('tooLarge' in content) {
    io.stdout(formatResult(file, { ok: false, problems: [oversizeProblem(content.tooLarge)] }).map((l) => `${l}\n`).join(''));
    return 1;
  }
  const result = parseAndValidate(content, file, { istioVersion: values.istioVersion });
  if (!result.ok) {
    io.stdout(formatResult(file, result).map((l) => `${l}\n`).join(''));
    return 1;
  }
  const objects = renderAll(result.value, values);
  if (opts.output === undefined) {
    io.stdout(format === 'json' ? toJson({ apiVersion: 'v1', kind: 'List', items: objects }) : fastYamlStream(objects));
    return 0;
  }
  const dir = opts.output;
  const files = outputFiles(result.value, objects, values);
  await mkdir(dir, { recursive: true });
  await clearOwnFiles(dir);
  for (const [rel, text] of files) {
    const path = join(dir, rel);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, text);
  }
  for (const sub of ['tacker', 'vm']) await rmdirIfEmpty(join(dir, sub));
  io.stderr(`mixmesh: wrote ${files.size} files to ${dir}\n`);
  return 0;
}
