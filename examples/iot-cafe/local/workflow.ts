/**
 * The café's CI/CD workflow (`.github/workflows/cafe.yml`) as the tests see it: its steps, and a
 * step's `run` commands executed as the runner executes them (bash -euo pipefail, in the
 * repository). The tests run the workflow's own commands, not copies of them.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const repo = fileURLToPath(new URL('../../../', import.meta.url));

export interface WorkflowStep { job: string; name?: string; uses?: string; run?: string }

export function workflowSteps(file = join(repo, '.github/workflows/cafe.yml')): WorkflowStep[] {
  const wf = parse(readFileSync(file, 'utf8')) as { jobs: Record<string, { steps: Omit<WorkflowStep, 'job'>[] }> };
  return Object.entries(wf.jobs).flatMap(([job, j]) => j.steps.map((s) => ({ job, ...s })));
}

/** the `run` commands of the step with this name */
export function workflowStep(name: string): string {
  const step = workflowSteps().find((s) => s.name === name);
  if (!step?.run) throw new Error(`the workflow has no step "${name}" with a run command`);
  return step.run;
}

/**
 * A step's `run` text with its `${{ … }}` expressions replaced as the runner replaces them (as text,
 * before bash sees it); an expression `values` does not name is an error, so nothing runs half-filled.
 */
export function expandExpressions(command: string, values: Record<string, string>): string {
  return command.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_, expr: string) => {
    const v = values[expr];
    if (v === undefined) throw new Error(`the step uses \${{ ${expr} }}, which the test gives no value (it has ${Object.keys(values).join(', ') || 'none'})`);
    return v;
  });
}

/** runs commands as a GitHub runner's `run:` does; output is stdout and stderr together */
export function runStep(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((ok) => {
    const p = spawn('bash', ['-euo', 'pipefail', '-c', command], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('close', (code) => ok({ code: code ?? 1, out }));
  });
}
