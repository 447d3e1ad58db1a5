/**
 * VNF packages (CSAR zip files) and the VNFD facts the emulator acts on: descriptor id, flavours,
 * VDUs, instantiation levels, the `instantiate_end` mgmt-driver script. A minimal zip reader and
 * writer (stored/deflated entries) so packages need no extra dependency.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, isAbsolute, posix } from 'node:path';
import { parseDocument } from 'yaml';

export interface ZipEntry {
  name: string;
  data: Buffer;
}

/** Read every file of a zip archive (stored or deflated; no zip64, no encryption). */
export function readZip(buf: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65_535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = buf.readUInt16LE(p + 10);
    const compSize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`corrupt zip local header for ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + compSize);
    if (method === 0) out.push({ name, data: Buffer.from(raw) });
    else if (method === 8) out.push({ name, data: inflateRawSync(raw) });
    else throw new Error(`zip entry ${name}: compression method ${method} is not supported (use stored or deflate)`);
  }
  return out;
}

/** Write a zip archive with stored entries. */
export function writeZip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc >>> 0, 14);
    lh.writeUInt32LE(e.data.length, 18);
    lh.writeUInt32LE(e.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc >>> 0, 16);
    ch.writeUInt32LE(e.data.length, 20);
    ch.writeUInt32LE(e.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, e.data);
    centrals.push(ch, name);
    offset += 30 + name.length + e.data.length;
  }
  const central = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, central, end]);
}

export interface Flavour {
  flavourId: string;
  vdus: string[];
  /** instantiation level id → VM count per VDU */
  levels: Record<string, number>;
  defaultLevel: string;
  /** the instantiate_end script, relative to Definitions/ (as Tacker resolves it), or absolute */
  instantiateEnd?: string;
  /** VDU → its software image name (`sw_image_data.name`): the Nova image a VM boots, what it "is" in the sandbox */
  vduImages?: Record<string, string>;
}

export interface Vnfd {
  vnfdId: string;
  provider: string;
  productName: string;
  softwareVersion: string;
  vnfdVersion: string;
  flavours: Flavour[];
}

/** Extract a CSAR under `dir` (refusing paths that leave it) and read its VNFD facts. */
export function extractCsar(entries: readonly ZipEntry[], dir: string): Vnfd {
  for (const e of entries) {
    const rel = normalize(e.name);
    if (isAbsolute(rel) || rel.startsWith('..')) throw new Error(`CSAR entry "${e.name}" leaves the package`);
    const target = join(dir, rel);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, e.data);
  }
  const meta = entries.find((e) => e.name === 'TOSCA-Metadata/TOSCA.meta');
  if (!meta) throw new Error('CSAR has no TOSCA-Metadata/TOSCA.meta');
  const entry = /Entry-Definitions:\s*(\S+)/.exec(meta.data.toString('utf8'))?.[1];
  if (!entry || !entries.some((e) => e.name === entry)) throw new Error(`TOSCA.meta Entry-Definitions "${entry ?? ''}" is not in the package`);
  const files = entries.filter((e) => e.name.startsWith('Definitions/') && /\.ya?ml$/.test(e.name));
  const docs = files.map((e) => parseDefinitions(e.name, e.data.toString('utf8')));
  checkImports(files.map((f, i) => ({ name: f.name, doc: docs[i] })), new Set(entries.map((e) => e.name)));
  return vnfdFromDocs(docs);
}

/**
 * Every import of every definitions file must resolve inside the package, as tosca-parser (which
 * Tacker parses packages with) requires when it loads the VNFD offline: a relative path from the
 * importing file's folder. tosca-parser's own wording: `Import "<uri>" is not valid.`
 */
function checkImports(files: readonly { name: string; doc: unknown }[], names: ReadonlySet<string>): void {
  const problems: string[] = [];
  for (const { name, doc } of files) {
    const imports = isObj(doc) && Array.isArray(doc.imports) ? doc.imports : [];
    for (const imp of imports) {
      // `- file.yaml`, or `- {file: file.yaml}`, or `- name: {file: file.yaml}` (TOSCA 1.2 forms)
      const uri = typeof imp === 'string' ? imp : isObj(imp) && typeof imp.file === 'string' ? imp.file
        : isObj(imp) && Object.values(imp).length === 1 && isObj(Object.values(imp)[0]) && typeof (Object.values(imp)[0] as Obj).file === 'string' ? (Object.values(imp)[0] as Obj).file as string : undefined;
      if (uri === undefined) {
        problems.push(`${name}: Import ${JSON.stringify(imp)} is not valid.`);
        continue;
      }
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
        problems.push(`${name}: Import "${uri}" is not valid. (the sandbox fetches nothing from the network: put the file in the package)`);
        continue;
      }
      const resolved = posix.normalize(posix.join(posix.dirname(name), uri));
      if (!names.has(resolved)) problems.push(`${name}: Import "${uri}" is not valid. (${resolved} is not in the package)`);
    }
  }
  if (problems.length) throw new Error(`CSAR validation failed: ${problems.join('; ')}`);
}

/**
 * A definitions file, read as leniently as Tacker's PyYAML where it matters. PyYAML accepts a flow
 * sequence continued on a less indented line (ETSI's own etsi_nfv_sol001_vnfd_types.yaml has
 * several, in `valid_values` lists); the yaml package reports BAD_INDENT / MULTILINE_IMPLICIT_KEY
 * there and keeps the items before the break. The emulator reads type files only for imports and
 * node type defaults, so those two are let through; any other error refuses the package.
 */
const PYYAML_TOLERATES = new Set(['BAD_INDENT', 'MULTILINE_IMPLICIT_KEY']);

function parseDefinitions(name: string, text: string): unknown {
  const doc = parseDocument(text, { strict: false });
  const fatal = doc.errors.filter((e) => !PYYAML_TOLERATES.has(e.code));
  if (fatal.length) throw new Error(`${name}: not YAML: ${fatal[0]!.message.split('\n')[0]}`);
  return doc.toJS() as unknown;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The VNFD facts from SOL001 documents: the VNF node's properties, VDUs, levels, interfaces. */
export function vnfdFromDocs(docs: readonly unknown[]): Vnfd {
  const flavours: Flavour[] = [];
  // the VNF's properties as tosca-parser gives them to Tacker: the node's own values over its
  // type's defaults (SOL001 packages often set provider/product name only as type defaults)
  const nodeTypes: Record<string, Obj> = {};
  for (const doc of docs) if (isObj(doc) && isObj(doc.node_types)) for (const [t, def] of Object.entries(doc.node_types)) if (isObj(def)) nodeTypes[t] = def;
  const typeDefaults = (type: unknown, seen = new Set<string>()): Obj => {
    if (typeof type !== 'string' || seen.has(type) || !nodeTypes[type]) return {};
    seen.add(type);
    const def = nodeTypes[type]!;
    const out: Obj = typeDefaults(def.derived_from, seen);
    if (isObj(def.properties)) for (const [k, p] of Object.entries(def.properties)) if (isObj(p) && p.default !== undefined) out[k] = p.default;
    return out;
  };
  let props: Obj | undefined;
  const merged: Obj = {};
  for (const doc of docs) {
    const nts = isObj(doc) && isObj(doc.topology_template) && isObj(doc.topology_template.node_templates) ? doc.topology_template.node_templates : undefined;
    if (!nts) continue;
    const vdus: string[] = [];
    const vduImages: Record<string, string> = {};
    let vnf: Obj | undefined;
    for (const [name, nt] of Object.entries(nts)) {
      if (!isObj(nt)) continue;
      if (nt.type === 'tosca.nodes.nfv.Vdu.Compute') {
        vdus.push(name);
        const img = isObj(nt.properties) && isObj(nt.properties.sw_image_data) ? nt.properties.sw_image_data.name : undefined;
        if (typeof img === 'string') vduImages[name] = img;
      }
      if (isObj(nt.properties) && typeof nt.properties.descriptor_id === 'string') vnf = nt;
    }
    if (!vnf) continue;
    const p = vnf.properties as Obj;
    for (const [k, v] of Object.entries(typeDefaults(vnf.type))) merged[k] ??= v;
    // explicit plain values win over defaults; `{get_input: …}` stays for the defaults to fill
    for (const [k, v] of Object.entries(p)) if (typeof v === 'string' || typeof v === 'number') merged[k] = v;
    props = merged;
    // the top-level VNFD (flavour_id from an input, no VDUs) describes the VNF, not a flavour
    if (vdus.length === 0 && typeof p.flavour_id !== 'string') continue;
    const flavourId = typeof p.flavour_id === 'string' ? p.flavour_id : 'simple';
    const levels: Record<string, number> = {};
    let defaultLevel = 'instantiation_level_1';
    for (const pol of Array.isArray(doc && (doc as Obj).topology_template && ((doc as Obj).topology_template as Obj).policies) ? (((doc as Obj).topology_template as Obj).policies as unknown[]) : []) {
      if (!isObj(pol)) continue;
      for (const v of Object.values(pol)) {
        if (!isObj(v) || !isObj(v.properties)) continue;
        if (v.type === 'tosca.policies.nfv.InstantiationLevels' && isObj(v.properties.levels)) {
          for (const lvl of Object.keys(v.properties.levels)) levels[lvl] ??= 1;
          if (typeof v.properties.default_level === 'string') defaultLevel = v.properties.default_level;
        }
        if (v.type === 'tosca.policies.nfv.VduInstantiationLevels' && isObj(v.properties.levels)) {
          for (const [lvl, spec] of Object.entries(v.properties.levels)) {
            if (isObj(spec) && typeof spec.number_of_instances === 'number') levels[lvl] = spec.number_of_instances;
          }
        }
      }
    }
    if (Object.keys(levels).length === 0) levels[defaultLevel] = 1;
    let instantiateEnd: string | undefined;
    const lcm = isObj(vnf.interfaces) && isObj(vnf.interfaces.Vnflcm) ? vnf.interfaces.Vnflcm : undefined;
    const ie = lcm?.instantiate_end;
    const impl = isObj(ie) ? ie.implementation : undefined;
    if (typeof impl === 'string') {
      const art = isObj(vnf.artifacts) ? vnf.artifacts[impl] : undefined;
      if (isObj(art) && typeof art.file === 'string' && art.type === 'tosca.artifacts.Implementation.Python') instantiateEnd = art.file;
    }
    flavours.push({ flavourId, vdus: vdus.length ? vdus : ['VDU1'], levels, defaultLevel, instantiateEnd, ...(Object.keys(vduImages).length ? { vduImages } : {}) });
  }
  if (!props || typeof props.descriptor_id !== 'string') throw new Error('no VNF node with properties.descriptor_id in Definitions/');
  const s = (v: unknown, d: string): string => (typeof v === 'string' ? v : d);
  return {
    vnfdId: props.descriptor_id,
    provider: s(props.provider, 'unknown'),
    productName: s(props.product_name, 'unknown'),
    softwareVersion: s(props.software_version, '1.0'),
    vnfdVersion: s(typeof props.descriptor_version === 'number' ? String(props.descriptor_version) : props.descriptor_version, '1.0'),
    flavours,
  };
}

/** The SOL001 document of a one-VDU VNF, with an optional instantiate_end script. */
export function sampleVnfdYaml(o: { vnfdId: string; productName: string; flavourId?: string; script?: string; image?: string }): string {
  const lines = [
    'tosca_definitions_version: tosca_simple_yaml_1_2',
    `description: ${o.productName} (mixmesh sandbox)`,
    'topology_template:',
    '  node_templates:',
    '    VNF:',
    '      type: company.provider.VNF',
    '      properties:',
    `        descriptor_id: ${o.vnfdId}`,
    '        descriptor_version: "1.0"',
    '        provider: mixmesh',
    `        product_name: ${o.productName}`,
    '        software_version: "1.0"',
    `        flavour_id: ${o.flavourId ?? 'simple'}`,
  ];
  if (o.script) {
    lines.push(
      '      interfaces:',
      '        Vnflcm:',
      '          instantiate_end:',
      '            implementation: mgmt-drivers-mixmesh',
      '      artifacts:',
      '        mgmt-drivers-mixmesh:',
      '          description: mixmesh VM Sidecar Injector plug-in',
      '          type: tosca.artifacts.Implementation.Python',
      `          file: ${o.script}`,
    );
  }
  lines.push(
    '    VDU1:',
    '      type: tosca.nodes.nfv.Vdu.Compute',
    '      properties:',
    '        name: VDU1',
    '        vdu_profile: {min_number_of_instances: 1, max_number_of_instances: 3}',
    ...(o.image ? [
      '        sw_image_data:',
      `          name: ${o.image}`,
      "          version: '1.0'",
      '          checksum: {algorithm: sha-256, hash: 0000000000000000000000000000000000000000000000000000000000000000}',
      '          container_format: bare',
      '          disk_format: raw',
      '          min_disk: 1 GB',
      '          size: 1 GB',
    ] : []),
    '    VDU1_CP1:',
    '      type: tosca.nodes.nfv.VduCp',
    '      properties: {layer_protocols: [ipv4], order: 0}',
    '      requirements: [{virtual_binding: VDU1}]',
    '  policies:',
    '    - instantiation_levels:',
    '        type: tosca.policies.nfv.InstantiationLevels',
    '        properties:',
    '          levels:',
    '            instantiation_level_1: {description: one VM}',
    '            instantiation_level_2: {description: two VMs}',
    '          default_level: instantiation_level_1',
    '    - VDU1_instantiation_levels:',
    '        type: tosca.policies.nfv.VduInstantiationLevels',
    '        properties:',
    '          levels:',
    '            instantiation_level_1: {number_of_instances: 1}',
    '            instantiation_level_2: {number_of_instances: 2}',
    '        targets: [VDU1]',
    '',
  );
  return lines.join('\n');
}

/** A whole CSAR (as zip entries) for a one-VDU VNF; `scriptBody` goes to Scripts/ when given. */
export function sampleCsar(o: { vnfdId: string; productName: string; flavourId?: string; scriptName?: string; scriptBody?: string; image?: string }): ZipEntry[] {
  const script = o.scriptName ? `../Scripts/${o.scriptName}` : undefined;
  const entries: ZipEntry[] = [
    { name: 'TOSCA-Metadata/TOSCA.meta', data: Buffer.from('TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: mixmesh\nEntry-Definitions: Definitions/vnfd_top.yaml\n') },
    { name: 'Definitions/vnfd_top.yaml', data: Buffer.from(sampleVnfdYaml({ ...o, script })) },
    { name: `BaseHOT/${o.flavourId ?? 'simple'}/vnfd_top.yaml`, data: Buffer.from("heat_template_version: 2013-05-23\ndescription: 'one VDU'\nresources: {}\n") },
  ];
  if (o.scriptName && o.scriptBody !== undefined) entries.push({ name: `Scripts/${o.scriptName}`, data: Buffer.from(o.scriptBody) });
  return entries;
}
