/**
 * A process whose in-memory state is a counter, for the container and VM state tests (backup and
 * migration): it notes the value it started from, then counts; CRIU's stand-in saves the file it
 * declares in SANDBOX_CRIU_STATE_FILE (`DIR/n`), so a restored process starts from the captured value
 * and a cold-started one from 0.
 */
import { readFileSync } from 'node:fs';

/** the counter's shell script (POSIX sh, busybox): DIR must exist */
export const counterScript = (dir: string): string =>
  `n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $n > ${dir}/started-from; while true; do n=$((n+1)); echo $n > ${dir}/n.tmp; mv ${dir}/n.tmp ${dir}/n; sleep 0.1; done`;

/** the number in a file, or undefined while it is missing or empty */
export const readNumber = (file: string): number | undefined => {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return t ? Number(t) : undefined;
  } catch {
    return undefined;
  }
};
