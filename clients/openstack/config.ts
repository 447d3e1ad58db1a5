/**
 * OpenStack configuration the OpenStack way (docs/tacker.md "Credentials and endpoints", docs/configuration.md):
 * `OS_CLOUD` + clouds.yaml (searched in `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
 * `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`), or `OS_*` variables.
 * Read once, validated, frozen; the caller passes the environment (nothing here reads process.env).
 */
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { MixmeshError } from '../../common/index.js';

export type EndpointInterface = 'public' | 'internal' | 'admin';

export interface OpenStackConfig {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  /** region used to pick catalog endpoints; undefined = the first endpoint of the interface */
  regionName: string | undefined;
  interface: EndpointInterface;
  /** where the values came from, for messages (never the values themselves) */
  source: string;
}

export interface LoadConfigOptions {
  cwd?: string;
  home?: string;
}

/** The files `OS_CLOUD` is looked up in, in order. */
export function cloudsYamlSearchPath(env: Readonly<Record<string, string | undefined>>, options: LoadConfigOptions = {}): string[] {
  const cwd = options.cwd ?? process.cwd();
  const home = options.home ?? env.HOME ?? '/root';
  const files: string[] = [];
  if (env.OS_CLIENT_CONFIG_FILE) files.push(resolve(cwd, env.OS_CLIENT_CONFIG_FILE));
  files.push(join(cwd, 'clouds.yaml'), join(home, '.config/openstack/clouds.yaml'), '/etc/openstack/clouds.yaml');
  return files;
}

interface Partial {
  authUrl?: string;
  username?: string;
  password?: string;
  projectName?: string;
  userDomainName?: string;
  projectDomainName?: string;
  regionName?: string;
  interface?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

function fromCloud(file: string, cloudName: string): Partial {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new MixmeshError('CONFIG_INVALID', `${file}: not a readable clouds.yaml: ${e instanceof Error ? e.message : String(e)}`);
  }
  const clouds = (doc as { clouds?: Record<string, unknown> } | null)?.clouds;
  if (!clouds || typeof clouds !== 'object') throw new MixmeshError('CONFIG_INVALID', `${file}: no "clouds" mapping`);
  const cloud = clouds[cloudName] as Record<string, unknown> | undefined;
  if (!cloud || typeof cloud !== 'object') {
    throw new MixmeshError('CONFIG_INVALID', `${file}: OS_CLOUD "${cloudName}" is not defined (known: ${Object.keys(clouds).join(', ') || 'none'})`);
  }
  const auth = (cloud.auth ?? {}) as Record<string, unknown>;
  const domain = str(auth.domain_name);
  return {
    authUrl: str(auth.auth_url),
    username: str(auth.username),
    password: str(auth.password),
    projectName: str(auth.project_name) ?? str(auth.tenant_name),
    userDomainName: str(auth.user_domain_name) ?? domain,
    projectDomainName: str(auth.project_domain_name) ?? domain,
    regionName: str(cloud.region_name),
    interface: str(cloud.interface) ?? str(cloud.endpoint_type),
  };
}

function fromEnv(env: Readonly<Record<string, string | undefined>>): Partial {
  return {
    authUrl: str(env.OS_AUTH_URL),
    username: str(env.OS_USERNAME),
    password: str(env.OS_PASSWORD),
    projectName: str(env.OS_PROJECT_NAME) ?? str(env.OS_TENANT_NAME),
    userDomainName: str(env.OS_USER_DOMAIN_NAME),
    projectDomainName: str(env.OS_PROJECT_DOMAIN_NAME),
    regionName: str(env.OS_REGION_NAME),
    interface: str(env.OS_INTERFACE),
  };
}

/**
 * The OpenStack configuration, or undefined when neither `OS_CLOUD` nor `OS_AUTH_URL` is set
 * (mixmesh then runs without OpenStack: OPENSTACK_NOT_CONFIGURED for VM descriptors).
 * With `OS_CLOUD`, the cloud's values win and `OS_*` variables fill what it leaves out.
 */
export function loadOpenStackConfig(env: Readonly<Record<string, string | undefined>>, options: LoadConfigOptions = {}): OpenStackConfig | undefined {
  const envPart = fromEnv(env);
  let merged: Partial = envPart;
  let source = 'OS_* environment variables';
  if (env.OS_CLOUD) {
    const files = cloudsYamlSearchPath(env, options);
    const file = files.find((f) => existsSync(f));
    if (!file) throw new MixmeshError('CONFIG_INVALID', `OS_CLOUD="${env.OS_CLOUD}" but no clouds.yaml was found (looked in: ${files.join(', ')})`);
    const cloud = fromCloud(file, env.OS_CLOUD);
    merged = { ...envPart };
    for (const [k, v] of Object.entries(cloud)) if (v !== undefined) (merged as Record<string, string>)[k] = v;
    source = `cloud "${env.OS_CLOUD}" in ${file}`;
  } else if (!envPart.authUrl) {
    return undefined;
  }
  return validateConfig(merged, source);
}

const REQUIRED: [keyof Partial, string][] = [
  ['authUrl', 'OS_AUTH_URL / auth.auth_url'],
  ['username', 'OS_USERNAME / auth.username'],
  ['password', 'OS_PASSWORD / auth.password'],
  ['projectName', 'OS_PROJECT_NAME / auth.project_name'],
];

/** Check a configuration assembled by hand (or by loadOpenStackConfig) and freeze it. */
export function validateConfig(part: Partial, source = 'configuration'): OpenStackConfig {
  const missing = REQUIRED.filter(([k]) => !part[k]).map(([, name]) => name);
  if (missing.length) throw new MixmeshError('CONFIG_INVALID', `OpenStack ${source}: missing ${missing.join(', ')}`);
  let url: URL;
  try {
    url = new URL(part.authUrl as string);
  } catch {
    throw new MixmeshError('CONFIG_INVALID', `OpenStack ${source}: auth URL "${part.authUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MixmeshError('CONFIG_INVALID', `OpenStack ${source}: auth URL "${part.authUrl}" must be http or https`);
  }
  const iface = (part.interface ?? 'public').replace(/URL$/, '');
  if (iface !== 'public' && iface !== 'internal' && iface !== 'admin') {
    throw new MixmeshError('CONFIG_INVALID', `OpenStack ${source}: interface "${part.interface}" must be public, internal or admin`);
  }
  return Object.freeze({
    authUrl: part.authUrl as string,
    username: part.username as string,
    password: part.password as string,
    projectName: part.projectName as string,
    userDomainName: part.userDomainName ?? 'Default',
    projectDomainName: part.projectDomainName ?? 'Default',
    regionName: part.regionName,
    interface: iface,
    source,
  });
}
