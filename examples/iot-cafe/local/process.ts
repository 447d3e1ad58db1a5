/** Stopping the servers the local café starts (MariaDB, nginx, the registry). */
import type { ChildProcess } from 'node:child_process';

/** Send `signal`, SIGKILL after `graceMs`, and resolve once the process has exited (at once if it already has). */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}
