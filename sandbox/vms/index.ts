export type { CreateVmOptions, SandboxVm, VmProvider } from './types.js';
export { createLocalVmProvider, consoleOutput, DEFAULT_SSHD_DELAY_MS, hostnameFor, killStaleVms, sshdConfig, VM_NETWORK_PREFIX, type LocalVmProvider, type LocalVmProviderOptions } from './provider.js';
export { canBind, checkHostTools, checkPort22, missingPackages, wildcardListenerOn22 } from './preflight.js';
