/**
 * VNF packages (`/vnfpkgm/v1`): create, upload (zip) → UPLOADING → PROCESSING → ONBOARDED, show,
 * list with SOL013 filters, enable/disable, delete, download (`package_content`). As Tacker: the
 * checksum is the SHA-512 of the uploaded zip, the VNFD facts (provider, product name, versions)
 * are read from the package, and a package that fails processing (say, a VNFD import that does
 * not resolve) goes back to CREATED so it can be uploaded again. Seeded packages are ONBOARDED and ENABLED.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import { extractCsar, readZip, type Vnfd } from './csar.js';
import { HttpProblem, jsonBody, objectBody } from './http-util.js';
import { listQueryFilter, matchesFilter, selectFields, Sol013Error, type SelectorQuery } from './sol013.js';
import { sendPage } from './paging.js';

export interface PackageRecord {
  id: string;
  onboardingState: 'CREATED' | 'UPLOADING' | 'PROCESSING' | 'ONBOARDED' | 'ERROR';
  /** the zip as uploaded: served by GET …/package_content, hashed for `checksum` */
  content?: Buffer;
  operationalState: 'ENABLED' | 'DISABLED';
  usageState: 'IN_USE' | 'NOT_IN_USE';
  userDefinedData?: Record<string, unknown>;
  vnfd?: Vnfd;
  /** the extracted CSAR: tmp_csar_dir for the mgmt driver */
  csarDir?: string;
  /** a script to run as instantiate_end instead of the one in the CSAR (the seeded plug-in package) */
  instantiateEndOverride?: string;
  onboardingFailureDetails?: { status: number; title: string; detail: string };
}

const DEFAULT_EXCLUDED = ['softwareImages', 'additionalArtifacts', 'userDefinedData', 'checksum'];

export class PackageStore {
  readonly packages = new Map<string, PackageRecord>();
  private readonly dir: string;
  private readonly baseUrl: () => string;
  private readonly processingMs: number;

  constructor(opts: { dir: string; baseUrl: () => string; processingMs: number }) {
    this.dir = opts.dir;
    this.baseUrl = opts.baseUrl;
    this.processingMs = opts.processingMs;
  }

  add(rec: PackageRecord): void {
    this.packages.set(rec.id, rec);
  }

  /** The ONBOARDED package holding a VNFD, if any (the newest wins, as Tacker keeps one per vnfdId). */
  byVnfdId(vnfdId: string): PackageRecord | undefined {
    return [...this.packages.values()].find((p) => p.onboardingState === 'ONBOARDED' && p.vnfd?.vnfdId === vnfdId);
  }

  view(p: PackageRecord): Record<string, unknown> {
    const base = `${this.baseUrl()}/vnfpkgm/v1/vnf_packages/${p.id}`;
    const out: Record<string, unknown> = { id: p.id };
    if (p.vnfd) {
      out.vnfdId = p.vnfd.vnfdId;
      out.vnfProvider = p.vnfd.provider;
      out.vnfProductName = p.vnfd.productName;
      out.vnfSoftwareVersion = p.vnfd.softwareVersion;
      out.vnfdVersion = p.vnfd.vnfdVersion;
      out.softwareImages = p.vnfd.flavours.flatMap((f) => Object.entries(f.vduImages ?? {}).map(([vdu, name]) => ({
        id: vdu, name, provider: p.vnfd!.provider, version: '1.0', checksum: { algorithm: 'sha-256', hash: '0'.repeat(64) },
        containerFormat: 'BARE', diskFormat: 'RAW', createdAt: '2026-01-01T00:00:00Z', minDisk: 1, minRam: 0, size: 1_073_741_824, userMetadata: {}, imagePath: '',
      })));
      out.additionalArtifacts = [];
      // Tacker's [vnf_package] hashing_algorithm default: sha512 of the uploaded zip
      out.checksum = { algorithm: 'sha512', hash: p.content ? createHash('sha512').update(p.content).digest('hex') : '' };
    }
    out.onboardingState = p.onboardingState;
    out.operationalState = p.operationalState;
    out.usageState = p.usageState;
    out.userDefinedData = p.userDefinedData ?? {};
    if (p.onboardingFailureDetails) out.onboardingFailureDetails = p.onboardingFailureDetails;
    out._links = { self: { href: base }, packageContent: { href: `${base}/package_content` } };
    if (p.vnfd) (out._links as Record<string, unknown>).vnfd = { href: `${base}/vnfd` };
    return out;
  }

  private get(id: string): PackageRecord {
    const p = this.packages.get(id);
    if (!p) throw new HttpProblem(404, `Can not find requested vnf package: ${id}`);
    return p;
  }

  private async onboard(p: PackageRecord, zip: Buffer): Promise<void> {
    await new Promise((r) => setTimeout(r, this.processingMs / 2));
    p.onboardingState = 'PROCESSING';
    await new Promise((r) => setTimeout(r, this.processingMs / 2));
    const dir = join(this.dir, p.id);
    try {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const vnfd = extractCsar(readZip(zip), dir);
      const clash = this.byVnfdId(vnfd.vnfdId);
      if (clash && clash.id !== p.id) throw new Error(`VNF package ${clash.id} already holds vnfdId ${vnfd.vnfdId}`);
      p.vnfd = vnfd;
      p.csarDir = dir;
      p.content = zip;
      p.onboardingState = 'ONBOARDED';
      p.operationalState = 'ENABLED';
      delete p.onboardingFailureDetails;
    } catch (e) {
      // Tacker's conductor (revert_upload_vnf_package): files removed, state back to CREATED so
      // the user can upload a corrected package; the reason is kept in SOL005's onboardingFailureDetails
      rmSync(dir, { recursive: true, force: true });
      p.onboardingState = 'CREATED';
      p.onboardingFailureDetails = { status: 422, title: 'Onboarding failed', detail: e instanceof Error ? e.message : String(e) };
    }
  }

  router(): Router {
    const r = express.Router();
    r.post('/vnf_packages', jsonBody, (req: Request, res: Response) => {
      const body = req.body === undefined ? {} : objectBody(req, 'create VNF package');
      const udd = body.userDefinedData;
      if (udd !== undefined && (udd === null || typeof udd !== 'object' || Array.isArray(udd))) throw new HttpProblem(400, 'userDefinedData must be an object');
      const p: PackageRecord = { id: randomUUID(), onboardingState: 'CREATED', operationalState: 'DISABLED', usageState: 'NOT_IN_USE', userDefinedData: udd as Record<string, unknown> | undefined };
      this.add(p);
      res.status(201).location(`${this.baseUrl()}/vnfpkgm/v1/vnf_packages/${p.id}`).json(this.view(p));
    });
    r.get('/vnf_packages', jsonBody, (req: Request, res: Response) => {
      const q = req.query as Record<string, string | undefined>;
      let exprs;
      try {
        exprs = listQueryFilter(q as SelectorQuery);
      } catch (e) {
        if (e instanceof Sol013Error) throw new HttpProblem(400, e.message);
        throw e;
      }
      const items = [...this.packages.values()].map((p) => this.view(p)).filter((v) => matchesFilter(v, exprs)).map((v) => selectFields(v, q as SelectorQuery, DEFAULT_EXCLUDED));
      sendPage(req, res, items, `${this.baseUrl()}/vnfpkgm/v1/vnf_packages`, 0);
    });
    r.get('/vnf_packages/:id', jsonBody, (req: Request, res: Response) => {
      res.json(this.view(this.get(req.params.id as string)));
    });
    r.patch('/vnf_packages/:id', jsonBody, (req: Request, res: Response) => {
      const p = this.get(req.params.id as string);
      const body = objectBody(req, 'update VNF package');
      const st = body.operationalState;
      if (st !== undefined && st !== 'ENABLED' && st !== 'DISABLED') throw new HttpProblem(400, `operationalState must be ENABLED or DISABLED, got ${JSON.stringify(st)}`);
      if (p.onboardingState !== 'ONBOARDED') throw new HttpProblem(409, `VNF package ${p.id} is ${p.onboardingState}, not ONBOARDED`);
      if (st !== undefined) {
        if (st === p.operationalState) throw new HttpProblem(409, `VNF package ${p.id} is already ${st}`);
        p.operationalState = st;
      }
      if (body.userDefinedData !== undefined) p.userDefinedData = { ...p.userDefinedData, ...(body.userDefinedData as Record<string, unknown>) };
      res.json({ ...(st !== undefined ? { operationalState: st } : {}), ...(body.userDefinedData !== undefined ? { userDefinedData: body.userDefinedData } : {}) });
    });
    r.delete('/vnf_packages/:id', jsonBody, (req: Request, res: Response) => {
      const p = this.get(req.params.id as string);
      if (p.operationalState === 'ENABLED' || p.usageState === 'IN_USE') throw new HttpProblem(409, `VNF package ${p.id} is ${p.operationalState}/${p.usageState}; disable it and delete its instances first`);
      this.packages.delete(p.id);
      if (p.csarDir) rmSync(p.csarDir, { recursive: true, force: true });
      res.status(204).end();
    });
    r.get('/vnf_packages/:id/package_content', (req: Request, res: Response) => {
      const p = this.get(req.params.id as string);
      if (p.onboardingState !== 'ONBOARDED' || !p.content) throw new HttpProblem(409, `VNF package ${p.id} onboarding state is not ONBOARDED`);
      res.status(200).type('application/zip').send(p.content);
    });
    r.put('/vnf_packages/:id/package_content', (req: Request, res: Response) => {
      const p = this.get(req.params.id as string);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
      if (type !== 'application/zip' && type !== 'application/octet-stream' && type !== 'multipart/form-data') throw new HttpProblem(415, `package content must be application/zip, got "${type ?? ''}"`);
      if (p.onboardingState !== 'CREATED') throw new HttpProblem(409, `VNF package ${p.id} is ${p.onboardingState}; content can be uploaded only once, while CREATED`);
      let zip = req.body as Buffer;
      if (!Buffer.isBuffer(zip) || zip.length === 0) throw new HttpProblem(400, 'the package content (a zip file) is empty');
      if (type === 'multipart/form-data') {
        // tackerclient uploads a file as a multipart form: take the first part's payload
        const start = zip.indexOf('PK\u0003\u0004');
        if (start < 0) throw new HttpProblem(400, 'the multipart upload holds no zip file');
        zip = zip.subarray(start);
      }
      p.onboardingState = 'UPLOADING';
      void this.onboard(p, zip);
      res.status(202).end();
    });
    return r;
  }
}
