/**
 * The injector's SSH edge is clients/ssh: this adapts its RemoteShell to the few calls the steps
 * make (exec with optional stdin that reports non-zero exits instead of throwing, SFTP of bytes, 0600).
 */
import { connectSsh, parseConsoleHostKeys, type RemoteShell } from '../clients/ssh/index.js';
import type { Logger } from '../common/logger.js';
import type { ConnectTarget, ConnectedShell } from './injector.js';

export { parseConsoleHostKeys };

export function adaptRemoteShell(shell: RemoteShell): ConnectedShell {
  return {
    exec: (command, input) => shell.exec(command, input === undefined ? { allowFailure: true } : { allowFailure: true, stdin: input }),
    putContent: (content, remotePath) => shell.put(Buffer.from(content, 'utf8'), remotePath, 0o600),
    close: () => shell.close(),
  };
}

export interface SshConnectorOptions {
  /** how long to wait for a new VM's sshd, with backoff (default 60 s) */
  connectBudgetMs?: number;
  log?: Logger;
}

/** connect(target) over clients/ssh, with the host-key policy always enforced. */
export function sshConnector(options: SshConnectorOptions = {}): (target: ConnectTarget) => Promise<ConnectedShell> {
  return async (target) =>
    adaptRemoteShell(
      await connectSsh({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        hostKey: target.hostKey,
        connectBudgetMs: options.connectBudgetMs ?? 60_000,
        log: options.log,
      }),
    );
}
