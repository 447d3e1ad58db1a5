/**
 * `pods/exec` through @kubernetes/client-node's Exec (a WebSocket with the v5/v4 channel
 * protocol, as kubectl exec): run a command in a container, collect its output and exit code.
 * What Velero's container hooks do. RBAC: `pods/exec` (create; get for older servers).
 * client-node (~70 MiB resident) is imported only when an exec is actually made, with its
 * KubeConfig built from the same kubeconfig text or service account (`KubeConfig.clientNode()`).
 */
import { Writable } from 'node:stream';
import type { Exec, V1Status } from '@kubernetes/client-node';
import { MixmeshError } from '../../common/errors.js';
import type { KubeConfig } from './config.js';

export interface PodExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

const collect = (max: number): { stream: Writable; text: () => string } => {
  let text = '';
  return {
    stream: new Writable({ write(chunk: Buffer, _e, cb) { if (text.length < max) text += chunk.toString('utf8'); cb(); } }),
    text: () => text.slice(0, max),
  };
};

export class PodExecClient {
  constructor(private readonly kc: KubeConfig, private readonly timeoutMs = 300_000) {}

  /** Run argv in the container; resolves with its exit code and (bounded) output; rejects when the exec could not start. */
  async exec(namespace: string, pod: string, container: string, argv: readonly string[], options: { timeoutMs?: number } = {}): Promise<PodExecResult> {
    const out = collect(64 * 1024);
    const err = collect(64 * 1024);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const where = `${namespace}/${pod}/${container}`;
    let exec: Exec;
    try {
      const [clientNode, kc] = await Promise.all([import('@kubernetes/client-node'), this.kc.clientNode()]);
      exec = new clientNode.Exec(kc);
    } catch (e) {
      throw new MixmeshError('K8S_REQUEST_FAILED', `exec in ${where}: cannot load the Kubernetes configuration: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return new Promise<PodExecResult>((resolve, reject) => {
      let done = false;
      let socket: { close(): void } | undefined;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        socket?.close();
        reject(new MixmeshError('K8S_WAIT_TIMEOUT', `exec in ${where}: no exit status in ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      timer.unref();
      const finish = (status: V1Status) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (status.status === 'Success') return resolve({ code: 0, stdout: out.text(), stderr: err.text() });
        const exit = status.reason === 'NonZeroExitCode' ? Number(status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message) : NaN;
        if (Number.isInteger(exit)) return resolve({ code: exit, stdout: out.text(), stderr: err.text() });
        reject(new MixmeshError('K8S_REQUEST_FAILED', `exec in ${where}: ${status.message ?? status.reason ?? 'failed'}`));
      };
      exec.exec(namespace, pod, container, [...argv], out.stream, err.stream, null, false, finish).then(
        (ws) => {
          socket = ws;
          ws.on('close', () => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            reject(new MixmeshError('K8S_REQUEST_FAILED', `exec in ${where}: the stream closed without an exit status`));
          });
        },
        (e: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const text = e instanceof Error ? e.message : typeof e === 'object' && e && 'message' in e ? String((e as { message: unknown }).message) : String(e);
          reject(new MixmeshError('K8S_REQUEST_FAILED', `exec in ${where}: ${text}`, { cause: e }));
        },
      );
    });
  }
}
