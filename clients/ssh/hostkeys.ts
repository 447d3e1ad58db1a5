/**
 * Host keys: parsing OpenSSH public key lines and cloud-init's console block. Pure.
 * A key is compared by its blob (the base64 part), never by its comment.
 */
import { MixmeshError } from '../../common/errors.js';

const KEY_TYPES = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

export interface PublicKey {
  type: string;
  /** the key blob, base64 as written in the key line */
  base64: string;
  comment?: string;
}

/** Parse "ssh-ed25519 AAAA… [comment]"; throws a clear error on anything else. */
export function parsePublicKey(line: string, where = 'host key'): PublicKey {
  const parts = line.trim().split(/\s+/);
  const [type, base64, ...rest] = parts;
  if (!type || !KEY_TYPES.test(type) || !base64 || !/^[A-Za-z0-9+/]+={0,3}$/.test(base64)) {
    throw new MixmeshError('BAD_REQUEST', `${where}: expected an OpenSSH public key line like "ssh-ed25519 AAAA…", got ${JSON.stringify(line.slice(0, 40))}`);
  }
  // the blob starts with the key type as an SSH string; a mismatch means a corrupted or forged line
  const blob = Buffer.from(base64, 'base64');
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (len <= 0 || blob.subarray(4, 4 + len).toString('latin1') !== type) {
    throw new MixmeshError('BAD_REQUEST', `${where}: the key blob does not match its type ${type}`);
  }
  return rest.length ? { type, base64, comment: rest.join(' ') } : { type, base64 };
}

/** The raw blob of a key line, as ssh2 hands it to a host verifier. */
export function keyBlob(line: string): Buffer {
  return Buffer.from(parsePublicKey(line).base64, 'base64');
}

/** "ssh-ed25519 AAAA…" for a raw blob (what accept-new records). */
export function blobToKeyLine(blob: Buffer): string {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return `${type} ${blob.toString('base64')}`;
}

const BEGIN = '-----BEGIN SSH HOST KEY KEYS-----';
const END = '-----END SSH HOST KEY KEYS-----';

/**
 * The host keys cloud-init printed on the console, from the last complete
 * `-----BEGIN SSH HOST KEY KEYS-----` block (a reboot prints a new one; the newest wins).
 * Lines may carry a prefix (`ec2: `, syslog markers); anything that is not a key is skipped.
 * Returns [] when there is no complete block.
 */
export function parseConsoleHostKeys(consoleOutput: string): string[] {
  const lines = consoleOutput.split(/\r?\n/);
  let block: string[] | undefined;
  let current: string[] | undefined;
  for (const line of lines) {
    if (line.includes(BEGIN)) {
      current = [];
    } else if (line.includes(END)) {
      if (current) block = current;
      current = undefined;
    } else if (current) {
      const m = /((?:ssh|ecdsa|sk-)[-a-z0-9@.]+)\s+([A-Za-z0-9+/]+={0,3})(\s+\S.*)?$/.exec(line.trim());
      if (m) {
        try {
          const key = parsePublicKey(`${m[1]} ${m[2]}`, 'console host key');
          current.push(`${key.type} ${key.base64}`);
        } catch {
          // not a key line (garbled console output): skipped, as ssh-keyscan would
        }
      }
    }
  }
  return block ?? [];
}
