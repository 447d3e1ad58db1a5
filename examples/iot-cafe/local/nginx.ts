/**
 * nginx playing the café's Ingress: the same path rules as k8s/ingress.yaml (`/order` →
 * order-api, `/kitchen` → kitchen-display, `/control` → device-api, `/` → kiosk-ui), round robin
 * over the replicas, event streams unbuffered. The engine ingress-nginx runs, configured by hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from './process.js';

export interface Upstreams { kioskUi: number[]; orderApi: number[]; kitchenDisplay: number[]; deviceApi: number[] }

/** the Ingress's rules, longest prefix first as the Ingress controller orders them */
export const PATH_RULES: readonly { path: string; service: keyof Upstreams; name: string }[] = [
  { path: '/control', service: 'deviceApi', name: 'device-api' },
  { path: '/kitchen', service: 'kitchenDisplay', name: 'kitchen-display' },
  { path: '/order', service: 'orderApi', name: 'order-api' },
  { path: '/', service: 'kioskUi', name: 'kiosk-ui' },
];

export function nginxConfig(dir: string, listen: { host: string; port: number }, up: Upstreams, asRoot: boolean): string {
  const upstream = (name: string, ports: number[]) => `  upstream ${name.replace(/-/g, '_')} {\n${ports.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n')}\n    keepalive 64;\n    keepalive_requests 100000;\n    keepalive_timeout 60s;\n  }`;
  const location = (path: string, name: string) => {
    // "/order" matches /order and /order/… but not /orders, as an Ingress Prefix path does
    const match = path === '/' ? 'location /' : `location = ${path} { proxy_pass http://${name.replace(/-/g, '_')}; }\n    location ${path}/`;
    return `    ${match} {\n      proxy_pass http://${name.replace(/-/g, '_')};\n    }`;
  };
  return `# written by examples/iot-cafe/local/nginx.ts
${asRoot ? 'user nobody nogroup;\n' : ''}worker_processes 2;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  # clients and upstreams keep their connections (nginx's default closes them every 1000 requests)
  keepalive_requests 100000;
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};
  client_max_body_size 64k;
  # bodies stay in memory: the workers (nobody) cannot write under the stack's private temp dir
  client_body_buffer_size 64k;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_buffering off;
  proxy_read_timeout 1h;
  proxy_next_upstream error timeout;
${upstream('kiosk-ui', up.kioskUi)}
${upstream('order-api', up.orderApi)}
${upstream('kitchen-display', up.kitchenDisplay)}
${upstream('device-api', up.deviceApi)}
  server {
    listen ${listen.host}:${listen.port} reuseport;
    server_name _;
${PATH_RULES.map((r) => location(r.path, r.name)).join('\n')}
  }
}
`;
}

export interface Nginx { stop: () => Promise<void>; config: string }

export async function startNginx(options: { dir: string; host: string; port: number; upstreams: Upstreams }): Promise<Nginx> {
  const bin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  if (!bin) throw new Error('nginx not found: install Debian\'s nginx-light (scripts/setup-host.sh does)');
  mkdirSync(join(options.dir, 'tmp'), { recursive: true });
  const config = join(options.dir, 'nginx.conf');
  writeFileSync(config, nginxConfig(options.dir, { host: options.host, port: options.port }, options.upstreams, process.getuid?.() === 0));
  const args = ['-p', options.dir, '-c', config, '-e', join(options.dir, 'error.log')];
  const child: ChildProcess = existsSync('/usr/bin/setpriv')
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  let exited = false;
  child.on('exit', () => { exited = true; });
  // ready when the port answers
  const until = Date.now() + 30_000;
  let delay = 20;
  for (;;) {
    if (exited) throw new Error(`nginx exited during start-up: ${stderr}${safeRead(join(options.dir, 'error.log'))}`);
    const ok = await fetch(`http://${options.host}:${options.port}/healthz`).then(() => true, () => false);
    if (ok) break;
    if (Date.now() > until) { child.kill('SIGKILL'); throw new Error(`nginx did not answer within 30 s: ${stderr}`); }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
  process.once('exit', () => { if (!exited) child.kill('SIGKILL'); });
  return {
    config,
    stop: () => stopChild(child, 'SIGQUIT', 5000),
  };
}

function safeRead(f: string): string {
  try { return readFileSync(f, 'utf8').slice(-1500); } catch { return ''; }
}
