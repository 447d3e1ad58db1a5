/**
 * The install and uninstall flows over one SSH connection per VM: the package on the stdin of one
 * exec, the bootstrap files over SFTP (in flight while the package travels), one script per step
 * (scripts.ts), each step recorded with its times, exit code, a redacted stderr tail and whether it
 * changed anything. I/O only through the InjectorShell it is given.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { MixmeshError, type ErrorCode } from '../common/errors.js';
import { redactText } from '../common/logger.js';
import { shellQuote as shellQuoteForSh } from '../common/names.js';
import type { BundleFiles } from './bundle/bundle.js';
import {
  EXIT, RESULT_CHANGED, RESULT_UNCHANGED, asRoot, dropInUnit, installPackageScript, placeFilesScript, prepareScript,
  replaceTokenScript, startScript, uninstallScript, uploadPackageScript, verifyScript, versionScript, type PackageKind,
} from './scripts.js';

export interface ExecResult {
  /** exit status; null when the remote process died by a signal */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What the steps need from an SSH session (clients/ssh's RemoteShell, adapted in shell.ts). */
export interface InjectorShell {
  /** run a command; `input` is written to its stdin, then EOF (the package travels this way) */
  exec(command: string, input?: Buffer): Promise<ExecResult>;
  /** write content to a remote file over SFTP (created 0600) */
  putContent(content: string, remotePath: string): Promise<void>;
}

export type StepName =
  | 'connect' | 'prepare' | 'upload-package' | 'install-package' | 'check-version' | 'place-files' | 'start' | 'verify'
  | 'stop-and-remove' | 'replace-token';

export interface StepRecord {
  name: StepName;
  startedAt: string;
  endedAt?: string;
  exitCode?: number | null;
  /** last lines of the step's stderr, secrets redacted */
  stderrTail?: string;
  /** false when the step found everything already in place */
  changed?: boolean;
  error?: { code: ErrorCode; message: string };
}

export type InjectionPhase = 'Connecting' | 'Installing' | 'Starting' | 'Verifying';

export interface StepObserver {
  phase?(phase: InjectionPhase): void;
  step?(record: StepRecord): void;
}

/** Where the sidecar package comes from (MIXMESH_SIDECAR_ARTIFACTS: a directory or an http(s) base). */
export type ArtifactSource = { dir: string } | { baseUrl: string };

export interface SidecarSpec {
  kind: PackageKind;
  istioVersion: string;
  source: ArtifactSource;
}

export interface InstallPlan {
  /** the address the injector SSHes to; the readiness proof asks <address>:15021 */
  address: string;
  user: string;
  sidecar: SidecarSpec;
  files: Required<Pick<BundleFiles, 'clusterEnv' | 'meshYaml' | 'hosts' | 'rootCert' | 'token'>>;
  readiness?: { attempts: number; intervalSeconds: number };
}

export function packageFileName(kind: PackageKind, version: string): string {
  return `istio-sidecar-${version}.${kind === 'tar' ? 'tar.gz' : kind}`;
}

/** A package read from MIXMESH_SIDECAR_ARTIFACTS: its bytes (shared by every VM), size and SHA-256. */
export interface LocalPackage {
  bytes: Buffer;
  size: number;
  sha256: string;
}

/** packages kept in memory at once (one per kind and version in use) */
const PACKAGE_CACHE_ENTRIES = 4;
/** a package nobody asked for this long is dropped from memory */
const PACKAGE_CACHE_IDLE_MS = 10 * 60_000;
const packageCache = new Map<string, { key: string; value: Promise<LocalPackage>; timer?: NodeJS.Timeout }>();

/**
 * Read a package once and share its bytes: injections running at once wait for the same read, and
 * later ones reuse it while the file's size, mtime and inode are unchanged (the 50 MiB package is
 * read and hashed once, not once per VM).
 */
export async function loadPackage(path: string): Promise<LocalPackage> {
  const st = await stat(path);
  const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  let entry = packageCache.get(path);
  if (!entry || entry.key !== key) {
    if (entry?.timer) clearTimeout(entry.timer);
    const value = readFile(path).then((bytes) => ({ bytes, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }));
    entry = { key, value };
    const mine = entry;
    value.catch(() => { if (packageCache.get(path) === mine) packageCache.delete(path); });
  }
  // most recently used last; the oldest beyond the bound go
  packageCache.delete(path);
  packageCache.set(path, entry);
  for (const [p, e] of packageCache) {
    if (packageCache.size <= PACKAGE_CACHE_ENTRIES) break;
    if (e.timer) clearTimeout(e.timer);
    packageCache.delete(p);
  }
  if (entry.timer) clearTimeout(entry.timer);
  const current = entry;
  entry.timer = setTimeout(() => { if (packageCache.get(path) === current) packageCache.delete(path); }, PACKAGE_CACHE_IDLE_MS);
  entry.timer.unref();
  return entry.value;
}

/** SHA-256 of a local package (cached with its bytes, see loadPackage). */
export async function fileSha256(path: string): Promise<string> {
  return (await loadPackage(path)).sha256;
}

function tail(text: string, secrets: readonly string[], lines = 20): string {
  return redactText(text.trimEnd().split('\n').slice(-lines).join('\n'), secrets).slice(-4000);
}

function parseKv(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

/** Runs named steps and keeps their records; errors carry stable codes and never secrets. */
export class StepRunner {
  constructor(
    private readonly shell: InjectorShell,
    private readonly user: string,
    private readonly secrets: readonly string[],
    private readonly observer: StepObserver = {},
    /** where records go (an injection's own list, so readers see steps as they start) */
    readonly records: StepRecord[] = [],
  ) {}

  /** Record a step around arbitrary work (uploads, connect). */
  async around<T>(name: StepName, work: (record: StepRecord) => Promise<T>): Promise<T> {
    const record: StepRecord = { name, startedAt: new Date().toISOString() };
    this.records.push(record);
    this.observer.step?.(record);
    try {
      const value = await work(record);
      return value;
    } catch (e) {
      const err = e instanceof MixmeshError ? e : new MixmeshError('SSH_COMMAND_FAILED', `${name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      record.error = { code: err.code, message: redactText(err.message, this.secrets) };
      throw err;
    } finally {
      record.endedAt = new Date().toISOString();
      this.observer.step?.(record);
    }
  }

  /** Run one script (as root when needed); a non-zero exit becomes the given code via `failure`. */
  async script(
    name: StepName,
    script: string,
    opts: { root?: boolean; failure?: (r: ExecResult) => MixmeshError; before?: () => Promise<void>; input?: Buffer } = {},
  ): Promise<ExecResult> {
    return this.around(name, async (record) => {
      await opts.before?.();
      const command = opts.root === false ? `sh -c ${shellQuoteForSh(script)}` : asRoot(script, this.user);
      const result = await this.shell.exec(command, opts.input);
      record.exitCode = result.code;
      if (result.stderr.trim() !== '') record.stderrTail = tail(result.stderr, this.secrets);
      if (result.stdout.includes(RESULT_UNCHANGED)) record.changed = false;
      else if (result.stdout.includes(RESULT_CHANGED)) record.changed = true;
      if (result.code !== 0) {
        const stderr = record.stderrTail ? `: ${record.stderrTail.split('\n').slice(-3).join(' | ')}` : '';
        throw opts.failure?.(result) ?? new MixmeshError('SSH_COMMAND_FAILED', `step ${name} exited ${result.code}${stderr}`);
      }
      return result;
    });
  }
}


function stepFailure(name: StepName, code: ErrorCode, secrets: readonly string[]) {
  return (r: ExecResult): MixmeshError => {
    const why = tail(r.stderr, secrets, 3).split('\n').join(' | ');
    return new MixmeshError(code, `step ${name} exited ${r.code}${why ? `: ${why}` : ''}`);
  };
}

export interface InstallResult {
  steps: StepRecord[];
  /** true when no step changed anything (a re-run on an installed VM) */
  unchanged: boolean;
  systemd: boolean;
  installedVersion: string;
}

/** What the install's steps share while they run: the plan, the runner, and what earlier steps found. */
export interface InstallContext {
  readonly shell: InjectorShell;
  readonly plan: InstallPlan;
  readonly steps: StepRunner;
  readonly observer: StepObserver;
  readonly secrets: readonly string[];
  /** prepare: the private staging directory and whether the VM runs systemd */
  staging: string;
  systemd: boolean;
  /** prepare: the sha256 of the package the VM keeps (`kept=`), if any */
  kept?: string | undefined;
  /** prepare: the bootstrap files on their way over SFTP (place-files waits for them) */
  bootstrapUpload?: Promise<unknown>;
  /** upload-package: where the VM fetches the package itself (an http(s) artifact base) */
  url?: string | undefined;
  installedVersion: string;
  /** place-files: the staging directory is gone; restart: cluster.env, mesh or the root cert changed */
  placed: boolean;
  restart: boolean;
}

/** One named step of the install: a script run on the VM (as root unless `root: false`), or an action. */
export type InstallStep = { name: StepName; phase?: InjectionPhase } & (
  | {
    script: (c: InstallContext) => string;
    root?: false;
    /** the error code of a non-zero exit (by the exit status); absent: SSH_COMMAND_FAILED with the stderr tail */
    failure?: ErrorCode | ((r: ExecResult) => ErrorCode);
    before?: (c: InstallContext) => Promise<void>;
    /** reads the step's output into the context, after the step's record is closed */
    after?: (r: ExecResult, c: InstallContext) => void;
  }
  | { action: (c: InstallContext, record: StepRecord) => Promise<void> }
);

/**
 * The install as data (docs/vm-bootstrap.md, "What happens on a VM"): each step's script comes
 * from scripts.ts, every one idempotent. `runInstall` runs them in order with one StepRunner.
 */
export const INSTALL_STEPS: readonly InstallStep[] = [
  {
    name: 'prepare',
    phase: 'Installing',
    script: (c) => prepareScript(c.plan.user, c.plan.sidecar.kind, c.plan.sidecar.istioVersion),
    root: false,
    failure: 'SSH_COMMAND_FAILED',
    after: (r, c) => {
      const facts = parseKv(r.stdout);
      const staging = facts.get('staging');
      if (!staging || !staging.startsWith('/')) throw new MixmeshError('SSH_COMMAND_FAILED', 'step prepare printed no staging directory');
      c.staging = staging;
      c.systemd = facts.get('systemd') === '1';
      c.kept = facts.get('kept');
      // the bootstrap files travel over SFTP into the private staging directory, never on a command
      // line; they are in flight while the package travels (one SFTP session, requests together) and
      // place-files waits for them
      const { shell, plan } = c;
      c.bootstrapUpload = Promise.all([
        shell.putContent(plan.files.clusterEnv, `${staging}/cluster.env`),
        shell.putContent(plan.files.meshYaml, `${staging}/mesh`),
        shell.putContent(plan.files.rootCert, `${staging}/root-cert.pem`),
        shell.putContent(plan.files.token, `${staging}/istio-token`),
        ...(c.systemd ? [shell.putContent(dropInUnit(), `${staging}/mixmesh.conf`)] : []),
      ]);
      c.bootstrapUpload.catch(() => undefined); // awaited in place-files (or before cleaning up)
    },
  },
  { name: 'upload-package', action: uploadPackage },
  {
    name: 'install-package',
    script: (c) => installPackageScript({ kind: c.plan.sidecar.kind, version: c.plan.sidecar.istioVersion, url: c.url }),
    failure: 'SIDECAR_PACKAGE_FAILED',
  },
  {
    name: 'check-version',
    script: () => versionScript(),
    failure: 'SIDECAR_PACKAGE_FAILED',
    after: (r, c) => {
      const installedVersion = r.stdout.trim().split('\n').pop()?.trim() ?? '';
      if (installedVersion !== c.plan.sidecar.istioVersion) {
        const record = c.steps.records[c.steps.records.length - 1]!;
        const err = new MixmeshError('SIDECAR_VERSION_MISMATCH', `the sidecar on ${c.plan.address} reports Istio ${JSON.stringify(installedVersion)}, requested ${c.plan.sidecar.istioVersion}`);
        record.error = { code: err.code, message: err.message };
        c.observer.step?.(record);
        throw err;
      }
      c.installedVersion = installedVersion;
      record(c.steps, 'check-version', false);
    },
  },
  {
    name: 'place-files',
    script: (c) => placeFilesScript(c.staging, c.plan.files.hosts, c.systemd),
    before: async (c) => {
      await c.bootstrapUpload;
    },
    after: (r, c) => {
      c.placed = true; // place-files removed the staging directory
      c.restart = parseKv(r.stdout).get('restart') === '1';
    },
  },
  { name: 'start', phase: 'Starting', script: (c) => startScript(c.restart), failure: 'SSH_COMMAND_FAILED' },
  {
    name: 'verify',
    phase: 'Verifying',
    script: (c) => {
      const readiness = c.plan.readiness ?? { attempts: 60, intervalSeconds: 0.25 };
      return verifyScript(c.plan.address, readiness.attempts, readiness.intervalSeconds);
    },
    failure: (r) => (r.code === EXIT.NOT_READY ? 'SIDECAR_NOT_READY' : r.code === EXIT.TOKEN_EXPIRED ? 'TOKEN_EXPIRED' : 'SSH_COMMAND_FAILED'),
    after: (_r, c) => record(c.steps, 'verify', false),
  },
];

/** upload-package: only when the VM does not already keep this exact file */
async function uploadPackage(c: InstallContext, record: StepRecord): Promise<void> {
  const { kind, istioVersion, source } = c.plan.sidecar;
  const fileName = packageFileName(kind, istioVersion);
  if ('dir' in source) {
    const local = `${source.dir.replace(/\/+$/, '')}/${fileName}`;
    let pkg: LocalPackage;
    try {
      pkg = await loadPackage(local);
    } catch (e) {
      throw new MixmeshError('SIDECAR_PACKAGE_FAILED', `sidecar package ${local} cannot be read (MIXMESH_SIDECAR_ARTIFACTS): ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    if (c.kept === pkg.sha256) {
      record.changed = false;
      return;
    }
    // the bytes on the stdin of one exec that writes the kept copy (as root: no move afterwards)
    const command = asRoot(uploadPackageScript(kind, istioVersion, pkg.size, pkg.sha256), c.plan.user);
    let result: ExecResult;
    try {
      result = await c.shell.exec(command, pkg.bytes);
    } catch (e) {
      throw new MixmeshError('SIDECAR_PACKAGE_FAILED', `upload ${fileName} to ${c.plan.address}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    record.exitCode = result.code;
    if (result.stderr.trim() !== '') record.stderrTail = tail(result.stderr, c.secrets);
    if (result.code !== 0) throw stepFailure('upload-package', 'SIDECAR_PACKAGE_FAILED', c.secrets)(result);
    record.changed = true;
  } else {
    c.url = `${source.baseUrl.replace(/\/+$/, '')}/${fileName}`;
    record.changed = false; // the VM fetches it in install-package, when it has no copy yet
  }
}

/** Run one step of the plan with the runner: its phase, its script or action, then what it read. */
async function runStep(step: InstallStep, c: InstallContext): Promise<void> {
  if (step.phase) c.observer.phase?.(step.phase);
  if ('action' in step) {
    await c.steps.around(step.name, (record) => step.action(c, record));
    return;
  }
  const { failure } = step;
  const result = await c.steps.script(step.name, step.script(c), {
    ...(step.root === false ? { root: false } : {}),
    ...(failure ? { failure: (r: ExecResult) => stepFailure(step.name, typeof failure === 'function' ? failure(r) : failure, c.secrets)(r) } : {}),
    ...(step.before ? { before: () => step.before!(c) } : {}),
  });
  step.after?.(result, c);
}

/** Install the sidecar and the bootstrap files, start it, prove readiness: INSTALL_STEPS in order. Idempotent. */
export async function runInstall(shell: InjectorShell, plan: InstallPlan, observer: StepObserver = {}, runner?: StepRunner): Promise<InstallResult> {
  const secrets = [plan.files.token, plan.files.rootCert.trim()];
  const steps = runner ?? new StepRunner(shell, plan.user, secrets, observer);
  const c: InstallContext = { shell, plan, steps, observer, secrets, staging: '', systemd: false, installedVersion: '', placed: false, restart: false };
  try {
    for (const step of INSTALL_STEPS) await runStep(step, c);
    const changed = steps.records.some((r) => r.changed === true && r.name !== 'prepare');
    return { steps: steps.records, unchanged: !changed, systemd: c.systemd, installedVersion: c.installedVersion };
  } finally {
    // place-files removes the staging directory; after a failure before it (and after prepare),
    // remove it here once the bootstrap uploads have settled, so none lands after the removal
    if (c.bootstrapUpload && !c.placed) {
      await c.bootstrapUpload.catch(() => undefined);
      await shell.exec(`rm -rf ${shellQuoteForSh(c.staging)}`).catch(() => undefined);
    }
  }
}

/** Mark a step that only checks as not having changed anything. */
function record(steps: StepRunner, name: StepName, changed: boolean): void {
  for (let i = steps.records.length - 1; i >= 0; i--) {
    const r = steps.records[i]!;
    if (r.name === name) {
      r.changed ??= changed;
      return;
    }
  }
}

/** Replace the token (renewal): SFTP into a private temp dir, then an atomic rename over both copies. */
export async function runReplaceToken(shell: InjectorShell, user: string, token: string, observer: StepObserver = {}): Promise<StepRecord[]> {
  const steps = new StepRunner(shell, user, [token], observer);
  const mk = await shell.exec(user === 'root' ? `mkdir -p /var/lib/mixmesh && umask 077 && mktemp -d /var/lib/mixmesh/staging.XXXXXX` : 'umask 077 && mktemp -d /tmp/mixmesh.XXXXXX');
  const dir = mk.stdout.trim();
  if (mk.code !== 0 || !dir.startsWith('/')) throw new MixmeshError('SSH_COMMAND_FAILED', `replace-token: cannot make a private directory (exit ${mk.code})`);
  try {
    await shell.putContent(token, `${dir}/istio-token`);
    await steps.script('replace-token', replaceTokenScript(`${dir}/istio-token`));
  } finally {
    await shell.exec(`rm -rf ${shellQuoteForSh(dir)}`).catch(() => undefined);
  }
  return steps.records;
}

export interface UninstallPlan {
  user: string;
  kind: PackageKind;
  istioVersion: string;
  /** the istiod host of the hosts line (`istiod.istio-system.svc`) */
  istiodHost: string;
}

/** Stop the agent, remove the package, the bootstrap files and the hosts line. Idempotent. */
export async function runUninstall(shell: InjectorShell, plan: UninstallPlan, observer: StepObserver = {}, records: StepRecord[] = []): Promise<StepRecord[]> {
  const steps = new StepRunner(shell, plan.user, [], observer, records);
  await steps.script('stop-and-remove', uninstallScript(plan.kind, plan.istioVersion, plan.istiodHost), {
    failure: stepFailure('stop-and-remove', 'SSH_COMMAND_FAILED', []),
  });
  return steps.records;
}
