/**
 * `npm run cafe [-- --port N]`: the whole café on this machine until Ctrl-C — MariaDB, the four
 * services, nginx with the Ingress's path rules — and the URLs to open.
 */
import { startCafe } from './local/stack.js';

function parsePort(argv: string[]): number {
  const i = argv.findIndex((a) => a === '--port' || a.startsWith('--port='));
  if (i < 0) return 8080;
  const raw = argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    process.stderr.write(`cafe: --port ${raw ?? ''}: expected an integer from 1 to 65535\n`);
    process.exit(2);
  }
  return n;
}

const unknown = process.argv.slice(2).filter((a, i, all) => !(a === '--port' || a.startsWith('--port=') || all[i - 1] === '--port'));
if (unknown.length > 0) {
  process.stderr.write(`cafe: unknown argument ${unknown[0]}\nusage: npm run cafe [-- --port N]\n`);
  process.exit(2);
}
const port = parsePort(process.argv.slice(2));
process.stderr.write('cafe: starting MariaDB, the four services and the entrance (nginx)…\n');
const cafe = await startCafe({ port, host: '127.0.0.1' });
process.stdout.write(`
  IoT café is open: ${cafe.url}/

    customers (table 7)   ${cafe.url}/?table=7
    kitchen display       ${cafe.url}/kitchen/#staff=${cafe.staffToken}
    manager (devices)     ${cafe.url}/control/#staff=${cafe.staffToken}

  staff token: ${cafe.staffToken}   (the kitchen and manager pages ask for it; the links above carry it)
  logs: ${cafe.logs}
  Ctrl-C stops everything.
`);
let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  process.stderr.write('\ncafe: stopping…\n');
  void cafe.stop().then(() => process.exit(0), (err: Error) => { process.stderr.write(`cafe: ${err.message}\n`); process.exit(1); });
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
