/**
 * The API client commands, registered on the `mixmesh` program by cli/main.ts:
 * `registerClientCommands(program)` adds apply, plan, get, status, events, delete and version.
 */
import type { Command } from 'commander';

function common(c: Command): Command {
  return c
    .option('--server <url>', 'orchestrator URL (MIXMESH_SERVER, default http://127.0.0.1:7070)')
    .option('--token <token>', 'API token (MIXMESH_TOKEN)')
    .option('-n, --namespace <ns>', 'namespace (MIXMESH_NAMESPACE, default "default")')
    .option('-o, --output <format>', 'machine output on stdout: yaml or json')
    .option('--certificate-authority <file>', 'PEM CA bundle the server certificate must chain to (MIXMESH_CERTIFICATE_AUTHORITY; default: the system roots)');
}

export function registerClientCommands(program: Command): void {
  common(program.command('apply').description('create or update a service from a descriptor and wait for it (PUT /v1/services/{ns}/{name})'))
    .requiredOption('-f, --file <file>', 'descriptor (YAML or JSON; - for stdin)')
    .option('--wait <bool>', 'wait for the operation to finish (true|false)', 'true')
    .option('--timeout <duration>', 'how long to wait', '10m')
    .action(async (opts: Record<string, unknown>) => {
      const { runApply } = await import('./commands.js');
      process.exitCode = await runApply(opts);
    });
  common(program.command('plan').description('show what apply would change, after the same preflight; changes nothing. Exit 0 no change, 1 changes, 2 errors (as kubectl diff)'))
    .requiredOption('-f, --file <file>', 'descriptor (YAML or JSON; - for stdin)')
    .action(async (opts: Record<string, unknown>) => {
      const { runPlan } = await import('./commands.js');
      process.exitCode = await runPlan(opts);
    });
  common(program.command('get').description('list services, or show one'))
    .argument('[name]', 'service name')
    .option('-A, --all-namespaces', 'every namespace')
    .action(async (name: string | undefined, opts: Record<string, unknown>) => {
      const { runGet } = await import('./commands.js');
      process.exitCode = await runGet(name, opts);
    });
  common(program.command('status').description('phase, conditions, microservices, VMs and the last operation of a service'))
    .argument('<name>', 'service name')
    .action(async (name: string, opts: Record<string, unknown>) => {
      const { runStatus } = await import('./commands.js');
      process.exitCode = await runStatus(name, opts);
    });
  common(program.command('events').description('a service\'s events, oldest first'))
    .argument('<name>', 'service name')
    .option('--follow', 'keep streaming new events until Ctrl-C')
    .action(async (name: string, opts: Record<string, unknown>) => {
      const { runEvents } = await import('./commands.js');
      process.exitCode = await runEvents(name, opts);
    });
  common(program.command('delete').description('tear a service down (mesh objects, WorkloadEntries, VNFs, workloads)'))
    .argument('<name>', 'service name')
    .option('--wait <bool>', 'wait until it is gone (true|false)', 'true')
    .option('--timeout <duration>', 'how long to wait', '10m')
    .action(async (name: string, opts: Record<string, unknown>) => {
      const { runDelete } = await import('./commands.js');
      process.exitCode = await runDelete(name, opts);
    });
  program.command('version').description('client and server versions (as kubectl version)')
    .option('--server <url>', 'orchestrator URL (MIXMESH_SERVER, default http://127.0.0.1:7070)')
    .option('--client', 'the client version only; contacts no server')
    .option('-o, --output <format>', 'machine output on stdout: yaml or json')
    .action(async (opts: Record<string, unknown>) => {
      const { runVersion } = await import('./commands.js');
      process.exitCode = await runVersion(opts);
    });
}
