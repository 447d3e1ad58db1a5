/**
 * `mixmesh completion bash|zsh|fish`: a completion script generated from the program's own
 * commands and options, so it never lags behind them. Usage:
 *   bash: `source <(mixmesh completion bash)` (or save it under /etc/bash_completion.d/mixmesh)
 *   zsh:  `source <(mixmesh completion zsh)` (or save it as `_mixmesh` in a directory on $fpath)
 *   fish: `mixmesh completion fish > ~/.config/fish/completions/mixmesh.fish`
 */
import type { Command, Option } from 'commander';
import { MixmeshError } from '../common/errors.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface OptionInfo {
  short?: string;
  long?: string;
  description: string;
  /** takes a value */
  value: boolean;
  /** the allowed values, when the option has a closed list */
  choices?: string[];
  /** the value is a file or directory */
  file: boolean;
}

interface CommandInfo {
  name: string;
  description: string;
  options: OptionInfo[];
}

const FILE_OPTIONS = /^--(file|config|kubeconfig|tokens-file|dir|artifacts)$/;
const CHOICES: Record<string, string[]> = { '--output': ['yaml', 'json'], '--format': ['yaml', 'json'], '--keystone': ['real', 'emulated', 'auto'], '--callback-auth': ['basic', 'oauth2'], '--wait': ['true', 'false'] };

function optionInfo(o: Option): OptionInfo {
  const long = o.long ?? undefined;
  const value = o.required || o.optional;
  const choices = (o as Option & { argChoices?: string[] }).argChoices ?? (long ? CHOICES[long] : undefined);
  // `-o` means --output for the client commands and a directory for render
  const file = value && !!long && (FILE_OPTIONS.test(long) || (long === '--output' && o.description.includes('DIR')));
  return { ...(o.short ? { short: o.short } : {}), ...(long ? { long } : {}), description: o.description, value, ...(choices && !file ? { choices } : {}), file };
}

export function describeProgram(program: Command): CommandInfo[] {
  return program.commands
    .filter((c) => !(c as Command & { _hidden?: boolean })._hidden)
    .map((c) => ({ name: c.name(), description: c.description(), options: [...c.options.map(optionInfo), { long: '--help', short: '-h', description: 'display help for command', value: false, file: false }] }));
}

const words = (list: string[]): string => list.join(' ');

function bash(commands: CommandInfo[], shell = 'bash'): string {
  const lines = [
    `# mixmesh ${shell} completion: source <(mixmesh completion ${shell})`,
    '_mixmesh() {',
    '  local cur prev sub',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev=""',
    '  [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  sub="${COMP_WORDS[1]}"',
    '  COMPREPLY=()',
    '  if [ "$COMP_CWORD" -le 1 ]; then',
    `    COMPREPLY=( $(compgen -W "${words(commands.map((c) => c.name))} --help --version" -- "$cur") )`,
    '    return 0',
    '  fi',
    '  local opts=""',
    '  case "$sub" in',
  ];
  for (const c of commands) {
    const flags = c.options.flatMap((o) => [o.short, o.long].filter((x): x is string => !!x));
    lines.push(`    ${c.name})`);
    lines.push(`      opts="${words(flags)}"`);
    const valued = c.options.filter((o) => o.value);
    if (valued.length) {
      lines.push('      case "$prev" in');
      for (const o of valued) {
        const pattern = [o.short, o.long].filter(Boolean).join('|');
        if (o.file) lines.push(`        ${pattern}) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;`);
        else if (o.choices) lines.push(`        ${pattern}) COMPREPLY=( $(compgen -W "${words(o.choices)}" -- "$cur") ); return 0 ;;`);
        else lines.push(`        ${pattern}) return 0 ;;`);
      }
      lines.push('      esac');
    }
    lines.push('      ;;');
  }
  lines.push(
    '  esac',
    '  if [[ "$cur" == -* ]]; then',
    '    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )',
    '  else',
    '    COMPREPLY=( $(compgen -f -- "$cur") )',
    '  fi',
    '  return 0',
    '}',
    'complete -o filenames -F _mixmesh mixmesh',
    '',
  );
  return lines.join('\n');
}

/** text inside a zsh _arguments spec: brackets, colons and quotes escaped */
const zq = (s: string): string => s.replace(/\\/g, '\\\\').replace(/'/g, "'\\''").replace(/([[\]:])/g, '\\$1');

function zsh(commands: CommandInfo[]): string {
  const lines = [
    '#compdef mixmesh',
    '# mixmesh zsh completion: source <(mixmesh completion zsh), or save as _mixmesh on $fpath',
    '_mixmesh() {',
    '  local -a commands',
    '  commands=(',
    ...commands.map((c) => `    '${c.name}:${zq(c.description)}'`),
    '  )',
    '  if (( CURRENT == 2 )); then',
    "    _describe 'command' commands",
    '    return',
    '  fi',
    '  local sub=$words[2]',
    '  shift words; (( CURRENT-- ))',
    '  case $sub in',
  ];
  for (const c of commands) {
    const specs = c.options.map((o) => {
      const names = [o.short, o.long].filter((x): x is string => !!x);
      const action = !o.value ? '' : o.file ? ':file:_files' : o.choices ? `:value:(${o.choices.join(' ')})` : ':value: ';
      const head = names.length > 1 ? `'(${names.join(' ')})'{${names.join(',')}}` : '';
      return names.length > 1 ? `      ${head}'[${zq(o.description)}]${action}'` : `      '${names[0]}[${zq(o.description)}]${action}'`;
    });
    lines.push(`    ${c.name})`, '      _arguments -s \\', ...specs.map((s) => `${s} \\`), "      '*:file:_files'", '      ;;');
  }
  lines.push('  esac', '}', 'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _mixmesh "$@"; else compdef _mixmesh mixmesh; fi', '');
  return lines.join('\n');
}

const fq = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fish(commands: CommandInfo[]): string {
  const lines = [
    '# mixmesh fish completion: mixmesh completion fish > ~/.config/fish/completions/mixmesh.fish',
    'complete -c mixmesh -f',
    ...commands.map((c) => `complete -c mixmesh -n __fish_use_subcommand -a ${c.name} -d ${fq(c.description)}`),
  ];
  for (const c of commands) {
    for (const o of c.options) {
      const parts = [`complete -c mixmesh -n '__fish_seen_subcommand_from ${c.name}'`];
      if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
      if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
      if (o.value) parts.push(o.file ? '-r -F' : o.choices ? `-x -a ${fq(o.choices.join(' '))}` : '-x');
      parts.push(`-d ${fq(o.description)}`);
      lines.push(parts.join(' '));
    }
    // positional arguments are files (descriptors) for the commands that take them
    if (['validate', 'render'].includes(c.name)) lines.push(`complete -c mixmesh -n '__fish_seen_subcommand_from ${c.name}' -F`);
  }
  lines.push('');
  return lines.join('\n');
}

export function completionScript(shell: string, program: Command): string {
  if (!(SHELLS as readonly string[]).includes(shell)) throw new MixmeshError('USAGE', `mixmesh completion: "${shell}" is not a supported shell (allowed: ${SHELLS.join(', ')})`);
  const commands = describeProgram(program);
  return shell === 'bash' ? bash(commands) : shell === 'zsh' ? zsh(commands) : fish(commands);
}
