export { connectSsh, readPrivateKey, type ConnectOptions, type ExecOptions, type ExecResult, type HostKeyPolicy, type RemoteShell } from './shell.js';
export { blobToKeyLine, keyBlob, parseConsoleHostKeys, parsePublicKey, type PublicKey } from './hostkeys.js';
