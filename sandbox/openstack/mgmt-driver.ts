/**
 * Run a VNF package's `instantiate_end` script exactly as tacker-conductor does
 * (sol_refactored/conductor/vnflcm_driver_v2.py): `python3 <script>` with a pickled dict on stdin
 * and the conductor's environment; a non-zero exit fails the operation with the script's stderr.
 * The pickle is built by a tiny Python helper from JSON, so the script sees real Python dicts.
 * stdout is read back as a pickle, as the conductor does: a dict's `user_script_err_handling_data`
 * is kept for the next run of the operation (retry); anything that is not a pickle is ignored
 * (Tacker swallows EOFError and UnpicklingError) and reported in `stdoutKind`.
 */
import { spawn } from 'node:child_process';

export interface MgmtDriverInput {
  operation: string;
  request: unknown;
  vnf_instance: unknown;
  grant_request: unknown;
  grant_response: unknown;
  tmp_csar_dir: string;
  /** what earlier runs of this operation's scripts left (Tacker passes it on every run) */
  user_script_err_handling_data: Record<string, unknown>;
}

export interface MgmtDriverResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** stdout as the conductor reads it: nothing, a pickled dict, another pickled value, or not a pickle */
  stdoutKind: 'empty' | 'dict' | 'other' | 'not-a-pickle';
  /** the pickled dict's `user_script_err_handling_data`, when there was one */
  userScriptErrHandlingData?: Record<string, unknown>;
}

const PICKLER = 'import sys, json, pickle; sys.stdout.buffer.write(pickle.dumps(json.load(sys.stdin)))';
/** the conductor's `pickle.loads(out.stdout)`, answered as JSON */
const UNPICKLER = [
  'import sys, json, pickle',
  'data = sys.stdin.buffer.read()',
  'try:',
  '    out = pickle.loads(data)',
  'except EOFError:',
  '    print(json.dumps({"kind": "empty"}))',
  'except Exception:',
  '    print(json.dumps({"kind": "not-a-pickle"}))',
  'else:',
  '    if isinstance(out, dict):',
  '        print(json.dumps({"kind": "dict", "data": out.get("user_script_err_handling_data")}, default=str))',
  '    else:',
  '        print(json.dumps({"kind": "other"}))',
].join('\n');

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
  let stdoutKind: MgmtDriverResult['stdoutKind'] = 'empty';
  let userScriptErrHandlingData: Record<string, unknown> | undefined;
  if (r.stdout.length > 0) {
    const read = await runProcess(python, ['-c', UNPICKLER], r.stdout, { env: opts.env, timeoutMs: 30_000 });
    const answer = JSON.parse(read.stdout.toString('utf8') || '{"kind": "not-a-pickle"}') as { kind: MgmtDriverResult['stdoutKind']; data?: unknown };
    stdoutKind = answer.kind;
    if (answer.data && typeof answer.data === 'object' && !Array.isArray(answer.data)) userScriptErrHandlingData = answer.data as Record<string, unknown>;
  }
  return { exitCode: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), timedOut: r.timedOut, stdoutKind, ...(userScriptErrHandlingData ? { userScriptErrHandlingData } : {}) };
}
