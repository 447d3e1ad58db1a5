import { strict as assert } from 'node:assert';
import { isMixmeshError } from '../../common/errors.js';
import { blobToKeyLine, keyBlob, parseConsoleHostKeys, parsePublicKey } from './hostkeys.js';

// a syntactically real ed25519 public key (blob = "ssh-ed25519" + 32 bytes)
const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 1)]);
const KEY = `ssh-ed25519 ${blob.toString('base64')}`;
const blob2 = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 2)]);
const KEY2 = `ssh-ed25519 ${blob2.toString('base64')}`;

describe('clients/ssh host keys', () => {
  it('parses key lines and compares by blob', () => {
    assert.deepEqual(parsePublicKey(`${KEY} root@vm`), { type: 'ssh-ed25519', base64: blob.toString('base64'), comment: 'root@vm' });
    assert.ok(keyBlob(`${KEY} any comment`).equals(blob));
    assert.equal(blobToKeyLine(blob), KEY);
  });

  it('rejects what is not a key, naming where', () => {
    assert.throws(() => parsePublicKey('hello world', 'vms[0].hostKey'), (e: unknown) => isMixmeshError(e, 'BAD_REQUEST') && e.message.startsWith('vms[0].hostKey:'));
    // type and blob disagree
    assert.throws(() => parsePublicKey(`ssh-rsa ${blob.toString('base64')}`), /does not match its type/);
  });

  it('reads the last complete cloud-init block, with or without line prefixes', () => {
    const console = [
      'boot…',
      '-----BEGIN SSH HOST KEY KEYS-----',
      `${KEY} root@old`,
      '-----END SSH HOST KEY KEYS-----',
      'reboot…',
      'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
      'ec2: 256 SHA256:abc root@vm (ED25519)',
      'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
      '-----BEGIN SSH HOST KEY KEYS-----',
      `ecdsa-sha2-nistp256 garbage`,
      `[  12.3] ${KEY2} root@new`,
      '-----END SSH HOST KEY KEYS-----',
      '-----BEGIN SSH HOST KEY KEYS-----',
      `${KEY} truncated block without END`,
    ].join('\r\n');
    assert.deepEqual(parseConsoleHostKeys(console), [KEY2]);
    assert.deepEqual(parseConsoleHostKeys('no block here'), []);
  });
});
