#!/usr/bin/env node
/**
 * The `mixmesh` command: thin; each command lives in its own module and is loaded only when used,
 * so `mixmesh validate` never loads the Kubernetes client.
 * Exit codes (docs/cli.md): 0 ok, 1 invalid/failed, 2 usage or configuration error.
 */
import { Command, CommanderError } from 'commander';
import { isMixmeshError } from '../common/errors.js';
import { buildInfo } from '../common/version.js';
import { registerClientCommands } from './client/index.js';
import { registerBackupCommands } from './backup.js';
import { registerMigrateCommands } from './migrate.js';
import { registerGatewayCommands } from './gateway.js';

export const program = new Command('mixmesh')
  .description('VMs and containers in one Istio service mesh')
  .version(buildInfo().version)
  // a usage error prints commander's one line (with "Did you mean …?") and main() adds the hint
  .showHelpAfterError(false)
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
  .option('--keystone <mode>', 'real (Debian keystone), emulated, or auto (real when installed)')
  .option('--clouds <n>', 'start N clouds side by side in DIR/cloud-1… (2: the source and target of a migration)')
  .action(async (opts: Record<string, unknown>) => {
    const { runSandbox } = await import('./sandbox.js');
    process.exitCode = await runSandbox(opts);
  });

program
  .command('serve')
  .description('run the orchestrator API and controller (and the injector on its own listener) until SIGTERM')
  .option('--config <file>', 'configuration file (YAML)')
  .option('--kubeconfig <file>', 'kubeconfig (KUBECONFIG)')
  .option('--listen <host:port>', 'orchestrator API listen address (MIXMESH_LISTEN, default 127.0.0.1:7070)')
  .option('--tokens-file <file>', 'API tokens: YAML [{name, role, sha256}] (MIXMESH_TOKENS_FILE)')
  .option('--no-injector', 'do not start the injector; use the one at MIXMESH_INJECTOR_URL')
  .option('--injector-listen <host:port>', 'injector listen address (MIXMESH_INJECTOR_LISTEN, default 127.0.0.1:7071)')
  .option('--injector-url <url>', 'a remote injector (MIXMESH_INJECTOR_URL), with --no-injector')
  .option('--callback-url <url>', 'Tacker notification callback URL (MIXMESH_CALLBACK_URL)')
  .option('--callback-auth <kind>', 'basic or oauth2 (MIXMESH_CALLBACK_AUTH)')
  .option('--system-namespace <ns>', 'where the callback Secret and the leader Lease live (MIXMESH_SYSTEM_NAMESPACE)')
  .option('--gateway-config <file>', 'the common gateway\'s providers (YAML; MIXMESH_GATEWAY_CONFIG); without it the gateway registers clusters only')
  .option('--tls-cert-file <file>', 'HTTPS for the API, the callback and the injector: PEM certificate (MIXMESH_TLS_CERT_FILE)')
  .option('--tls-key-file <file>', 'its PEM key (MIXMESH_TLS_KEY_FILE)')
  .option('--tls-secret <ns/name>', 'or a kubernetes.io/tls Secret (MIXMESH_TLS_SECRET)')
  .option('--webhook-listen <host:port>', 'serve the MeshService admission webhook here (MIXMESH_WEBHOOK_LISTEN)')
  .option('--webhook-url <url>', 'the https URL the API server calls the webhook at (MIXMESH_WEBHOOK_URL)')
  .action(async (opts: Record<string, unknown>) => {
    const { runServe } = await import('./serve.js');
    process.exitCode = await runServe(opts);
  });

program
  .command('serve-injector')
  .description('run a stand-alone VM Sidecar Injector until SIGTERM')
  .option('--listen <host:port>', 'listen address (MIXMESH_INJECTOR_LISTEN, default 127.0.0.1:7071)')
  .option('--kubeconfig <file>', 'kubeconfig (KUBECONFIG)')
  .option('--artifacts <dir-or-url>', 'sidecar packages (MIXMESH_SIDECAR_ARTIFACTS)')
  .option('--injector-notifications', 'act on Tacker COMPLETED notifications (stand-alone mode)')
  .option('--parallel <n>', 'VMs injected at once')
  .action(async (opts: Record<string, unknown>) => {
    const { runServeInjector } = await import('./serve-injector.js');
    process.exitCode = await runServeInjector(opts);
  });

program
  .command('demo')
  .description('the whole story: sandbox + orchestrator + injector, deploy the IoT café, show it, tear it down')
  .option('--dir <dir>', 'sandbox directory', '.mixmesh/sandbox')
  .option('--keep', 'leave everything running until Ctrl-C')
  .action(async (opts: Record<string, unknown>) => {
    const { runDemo } = await import('./demo.js');
    process.exitCode = await runDemo(opts);
  })
  .command('migrate')
  .description('two sandbox clouds: a worker with the café\'s orders stops, its workload moves to a new worker in the second cloud')
  .option('--dir <dir>', 'directory of the two clouds', '.mixmesh/demo-migrate')
  .option('--keep', 'leave both clouds running until Ctrl-C')
  .action(async (opts: Record<string, unknown>, cmd: Command) => {
    // `demo` has --dir and --keep too and takes them wherever they are written
    const parent = cmd.parent!;
    const { runDemoMigrate } = await import('./demo-migrate.js');
    process.exitCode = await runDemoMigrate({ ...opts, ...(parent.getOptionValueSource('dir') === 'cli' ? { dir: parent.opts().dir as string } : {}), keep: Boolean(opts.keep ?? parent.opts().keep) });
  });

registerClientCommands(program);
registerBackupCommands(program);
registerMigrateCommands(program);
registerGatewayCommands(program);

program
  .command('install')
  .description('print the manifests that install mixmesh into a cluster (mixmesh install | kubectl apply -f -)')
  .option('--namespace <ns>', 'the system namespace', 'mixmesh-system')
  .option('--image <image>', 'the mixmesh image', 'ghcr.io/mixmesh/mixmesh:0.1.0')
  .option('--replicas <n>', 'orchestrator replicas (leader election)', '2')
  .option('--tls-secret <name>', 'kubernetes.io/tls Secret in the namespace for the API, callback and injector', 'mixmesh-tls')
  .option('--no-tls', 'serve plain HTTP (behind a mesh or proxy that terminates TLS)')
  .option('--sidecar-artifacts <dir-or-url>', 'where the injector finds istio-sidecar-<version> packages')
  .option('--admin-token-sha256 <hex>', 'use this token hash instead of generating an admin token')
  .option('--no-tokens', 'leave the token Secrets empty (fill them with `mixmesh token create --secret`)')
  .option('--backup-state', 'also bind mixmesh-backup-state: pods/exec for backup hooks, nodes/checkpoint for container state (off: hooks fail FORBIDDEN, state is a recorded cold start)')
  .action(async (opts: Record<string, unknown>) => {
    const { runInstall } = await import('./install.js');
    process.exitCode = await runInstall(opts);
  });

// `mixmesh token create|list|revoke` (cli/token.ts): API tokens kept hashed, in a file or a Secret
const token = program.command('token').description('API tokens: create, list, revoke (kept hashed: SHA-256 only)');
const tokenStore = (c: Command): Command => c
  .option('--tokens-file <file>', 'the tokens file (MIXMESH_TOKENS_FILE)')
  .option('--secret <ns/name>', 'or a Kubernetes Secret (key tokens.yaml), e.g. mixmesh-system/mixmesh-tokens')
  .option('--kubeconfig <file>', 'kubeconfig for --secret (KUBECONFIG)');
tokenStore(token.command('create').description('make a token; prints it once on stdout')
  .requiredOption('--role <role>', 'viewer, deployer or admin')
  .option('--name <name>', 'a name to list and revoke it by (default <role>-<random>)')
  .option('--ttl <duration>', 'lifetime: 90d, 72h, 30m; 0 never expires', '0'))
  .action(async (opts: Record<string, unknown>) => {
    const { runTokenCreate } = await import('./token.js');
    process.exitCode = await runTokenCreate(opts);
  });
tokenStore(token.command('list').description('the tokens: name, role, created, expiry (never the token)')
  .option('-o, --output <format>', 'json'))
  .action(async (opts: Record<string, unknown>) => {
    const { runTokenList } = await import('./token.js');
    process.exitCode = await runTokenList(opts);
  });
tokenStore(token.command('revoke').description('remove a token; the orchestrator refuses it within seconds')
  .argument('<name>', 'the token\'s name'))
  .action(async (name: string, opts: Record<string, unknown>) => {
    const { runTokenRevoke } = await import('./token.js');
    process.exitCode = await runTokenRevoke(name, opts);
  });

program
  .command('completion')
  .description('print a shell completion script (bash, zsh or fish)')
  .argument('<shell>', 'bash, zsh or fish')
  .addHelpText('after', `
  bash: source <(mixmesh completion bash)
  zsh:  source <(mixmesh completion zsh)
  fish: mixmesh completion fish > ~/.config/fish/completions/mixmesh.fish`)
  .action(async (shell: string) => {
    const { completionScript } = await import('./completion.js');
    process.stdout.write(completionScript(shell, program));
  });

/** the command a usage error is about, for the hint: the first known command name in argv */
function commandOf(argv: string[]): string | undefined {
  const names = new Set(program.commands.map((c) => c.name()));
  return argv.slice(2).find((a) => names.has(a));
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors exit 2 with one hint line after commander's message
      if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.help') return 2; // `mixmesh` alone: the help was the answer
      const sub = commandOf(argv);
      process.stderr.write(`Run 'mixmesh ${sub ? `${sub} ` : ''}--help' for usage.\n`);
      return 2;
    }
    if (isMixmeshError(e)) {
      process.stderr.write(`mixmesh: ${e.code}: ${e.message}\n`);
      return e.code === 'CONFIG_INVALID' || e.code === 'USAGE' || e.code.startsWith('SANDBOX_') ? 2 : 1;
    }
    process.stderr.write(`mixmesh: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

