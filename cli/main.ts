#!/usr/bin/env node
/**
 * The `mixmesh` command: thin; each command lives in its own module and is loaded only when used,
 * so `mixmesh validate` never loads the Kubernetes client.
 * Exit codes (interfaces.md): 0 ok, 1 invalid/failed, 2 usage or configuration error.
 */
import { Command, CommanderError } from 'commander';
import { isMixmeshError } from '../common/errors.js';

export const program = new Command('mixmesh')
  .description('VMs and containers in one Istio service mesh')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program
  .command('validate')
  .description('check descriptors; one line per problem')
  .argument('<file...>', 'descriptor files (YAML or JSON)')
  .option('--config <file>', 'mesh values (YAML)')
  .action(async (files: string[], opts: Record<string, unknown>) => {
    const { runValidate } = await import('./validate.js');
    process.exitCode = await runValidate(files, opts);
  });

program
  .command('render')
  .description('print every generated Kubernetes/Istio object; never contacts a cluster')
  .argument('<file>', 'descriptor file')
  .option('-o, --output <dir>', 'write kubernetes.yaml, mesh.yaml, tacker/, vm/ into DIR')
  .option('--format <format>', 'yaml or json', 'yaml')
  .option('--config <file>', 'mesh values (YAML)')
  .action(async (file: string, opts: Record<string, unknown>) => {
    const { runRender } = await import('./render.js');
    process.exitCode = await runRender(file, opts);
  });

program
  .command('sandbox')
  .description('start the embedded sandbox cloud on loopback until SIGINT/SIGTERM')
  .option('--dir <dir>', 'where to write kubeconfig, clouds.yaml, openrc, ssh keys', '.mixmesh/sandbox')
  .action(async (opts: Record<string, unknown>) => {
    const { runSandbox } = await import('./sandbox.js');
    process.exitCode = await runSandbox(opts);
  });

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors exit 2
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isMixmeshError(e)) {
      process.stderr.write(`mixmesh: ${e.code}: ${e.message}\n`);
      return e.code === 'CONFIG_INVALID' || e.code === 'USAGE' || e.code.startsWith('SANDBOX_') ? 2 : 1;
    }
    process.stderr.write(`mixmesh: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

