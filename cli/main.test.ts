/**
 * The command's own habits, run as a user runs it: unknown commands, `completion` (the bash
 * script is executed by bash, the way bash calls it on Tab), `version --client`.
 */
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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

  it('completion bash completes commands, options and option values in a real bash; zsh and fish scripts name every command; another shell is exit 2', async () => {
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
    // where the shells are installed, their own parsers check the scripts
    for (const [shell, text] of [['zsh', zsh.stdout], ['fish', fish.stdout]] as const) {
      if (existsSync(`/usr/bin/${shell}`)) execFileSync(`/usr/bin/${shell}`, ['-n'], { input: text });
    }
    const other = await mixmesh(['completion', 'powershell']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /"powershell" is not a supported shell \(allowed: bash, zsh, fish\)/);
  });
});
