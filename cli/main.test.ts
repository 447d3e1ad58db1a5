/**
 * The command's own habits, run as a user runs it: unknown commands, `completion` (the scripts
 * run by bash, zsh and fish themselves), `version --client`.
 */
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function mixmesh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/bin.ts', ...args], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** what bash offers on Tab after `words` (the last word is the one being completed) */
function bashComplete(script: string, words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const out = execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _mixmesh; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: root, encoding: 'utf8' });
  return out.split('\n').filter(Boolean).sort();
}

describe('cli: mixmesh (program habits)', function () {
  this.timeout(60000);

  it('an unknown command prints one line, a suggestion and a hint, not the whole help; exit 2', async () => {
    const r = await mixmesh(['aply', '-f', 'x.yaml']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, "error: unknown command 'aply'\n(Did you mean apply?)\nRun 'mixmesh --help' for usage.\n");
    const missing = await mixmesh(['plan']);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, "error: required option '-f, --file <file>' not specified\nRun 'mixmesh plan --help' for usage.\n");
  });

  it('version --client prints the package version; contacts nothing', async () => {
    const version = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }).version;
    const r = await mixmesh(['version', '--client']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Client Version: ${version}\n`);
  });

  it('completion: bash and fish complete commands, options and option values; zsh parses and registers the script; another shell is exit 2', async () => {
    const bash = await mixmesh(['completion', 'bash']);
    assert.equal(bash.code, 0, bash.stderr);
    assert.deepEqual(bashComplete(bash.stdout, ['mixmesh', 'pl']), ['plan']);
    assert.deepEqual(bashComplete(bash.stdout, ['mixmesh', 'v']), ['validate', 'version']);
    assert.ok(bashComplete(bash.stdout, ['mixmesh', 'apply', '--ti']).includes('--timeout'));
    assert.deepEqual(bashComplete(bash.stdout, ['mixmesh', 'get', '-o', '']), ['json', 'yaml']);
    assert.deepEqual(bashComplete(bash.stdout, ['mixmesh', 'completion', '']).length > 0, true);
    assert.ok(bashComplete(bash.stdout, ['mixmesh', 'apply', '-f', 'examples/mini']).includes('examples/minimal'), 'files after -f');
    const commands = ['validate', 'render', 'apply', 'plan', 'get', 'status', 'events', 'delete', 'version', 'completion'];
    const zsh = await mixmesh(['completion', 'zsh']);
    assert.equal(zsh.code, 0);
    assert.match(zsh.stdout, /^#compdef mixmesh$/m);
    for (const c of commands) assert.match(zsh.stdout, new RegExp(`^ {4}'${c}:`, 'm'), c);
    assert.match(zsh.stdout, /'\(-o --output\)'\{-o,--output\}'\[machine output on stdout\\: yaml or json\]:value:\(yaml json\)'/);
    const fish = await mixmesh(['completion', 'fish']);
    assert.equal(fish.code, 0);
    for (const c of commands) assert.match(fish.stdout, new RegExp(`^complete -c mixmesh -n __fish_use_subcommand -a ${c} -d `, 'm'), c);
    assert.match(fish.stdout, /^complete -c mixmesh -n '__fish_seen_subcommand_from apply' -s f -l file -r -F -d /m);
    // the shells themselves (scripts/setup-host.sh installs zsh and fish): their parsers accept the
    // scripts, zsh registers the completion function, fish completes from it
    for (const shell of ['zsh', 'fish']) assert.ok(existsSync(`/usr/bin/${shell}`), `/usr/bin/${shell} is missing: run scripts/setup-host.sh`);
    const dir = mkdtempSync(join(tmpdir(), 'mixmesh-completion-'));
    try {
      writeFileSync(join(dir, '_mixmesh'), zsh.stdout);
      writeFileSync(join(dir, 'mixmesh.fish'), fish.stdout);
      execFileSync('/usr/bin/zsh', ['-n', join(dir, '_mixmesh')]);
      execFileSync('/usr/bin/fish', ['-n', join(dir, 'mixmesh.fish')]);
      const registered = execFileSync('/usr/bin/zsh', ['-f', '-c', `autoload -U compinit; compinit -u -d ${join(dir, 'zcompdump')}; source ${join(dir, '_mixmesh')}; print -r -- $_comps[mixmesh]`], { encoding: 'utf8', env: { ...process.env, HOME: dir } });
      assert.equal(registered.trim(), '_mixmesh');
      const fishSays = (line: string): string[] => execFileSync('/usr/bin/fish', ['--no-config', '-c', `source ${join(dir, 'mixmesh.fish')}; complete -C '${line}'`], { encoding: 'utf8', env: { ...process.env, HOME: dir } })
        .split('\n').filter(Boolean).map((l) => l.split('\t')[0]!).sort();
      assert.deepEqual(fishSays('mixmesh pl'), ['plan']);
      assert.deepEqual(fishSays('mixmesh get -o '), ['json', 'yaml']);
      assert.ok(fishSays('mixmesh apply --ti').includes('--timeout'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const other = await mixmesh(['completion', 'powershell']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /"powershell" is not a supported shell \(allowed: bash, zsh, fish\)/);
  });
});
