/**
 * Run a VNF package's `instantiate_end` script exactly as tacker-conductor does
 * (sol_refactored/conductor/vnflcm_driver_v2.py): `python3 <script>` with a pickled dict on stdin
 * and the conductor's environment; a non-zero exit fails the operation with the script's stderr.
 * The pickle is built by a tiny Python helper from JSON, so the script sees real Python dicts.
 */
import { spawn } from 'node:child_process';

export interface MgmtDriverInput {
  operation: string;
  request: unknown;
  vnf_instance: unknown;
  grant_request: unknown;
  grant_response: unknown;
  tmp_csar_dir: string;
}

export interface MgmtDriverResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const PICKLER = 'import sys, json, pickle; sys.stdout.buffer.write(pickle.dumps(json.load(sys.stdin)))';

function runProcess(cmd: string, args: string[], input: Buffer, opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; signal?: AbortSignal }): Promise<{ code: number | null; stdout: Buffer; stderr: Buffer; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err), timedOut });
    });
    // a script that never reads stdin must not make us crash on EPIPE
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Pickle the input and run `python3 script` with it on stdin. */
export async function runMgmtDriver(script: string, input: MgmtDriverInput, opts: { env: NodeJS.ProcessEnv; python?: string; timeoutMs: number; cwd?: string; signal?: AbortSignal }): Promise<MgmtDriverResult> {
  const python = opts.python ?? 'python3';
  const pickled = await runProcess(python, ['-c', PICKLER], Buffer.from(JSON.stringify(input)), { env: opts.env, timeoutMs: 30_000 });
  if (pickled.code !== 0) throw new Error(`pickling the mgmt driver input failed: ${pickled.stderr.toString('utf8').slice(-500)}`);
  const r = await runProcess(python, [script], pickled.stdout, { env: opts.env, cwd: opts.cwd, timeoutMs: opts.timeoutMs, signal: opts.signal });
  return { exitCode: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), timedOut: r.timedOut };
}
