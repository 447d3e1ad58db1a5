/**
 * A minimal Glance v2 (`/image/v2`), enough for the OpenStack CLI: `server list`/`server show`
 * resolve image names through it, and `image list`/`image show` list the one image every sandbox
 * VM boots from. Read-only; errors in Glance's own shape.
 */
import express, { type Request, type Response, type Router } from 'express';

export const SANDBOX_IMAGE_ID = '6a4b5a1e-0000-4000-8000-0000000000e1';
export const SANDBOX_IMAGE_NAME = 'sandbox-busybox';

export interface SandboxImage {
  id: string;
  name: string;
}

function imageView(i: SandboxImage): Record<string, unknown> {
  return {
    id: i.id,
    name: i.name,
    status: 'active',
    visibility: 'public',
    protected: false,
    os_hidden: false,
    container_format: 'bare',
    disk_format: 'raw',
    min_disk: 0,
    min_ram: 0,
    size: 2 * 1024 * 1024,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    owner: 'sandbox',
    tags: [],
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
    description: 'the busybox + OpenSSH root filesystem of every sandbox VM',
  };
}

function glanceError(res: Response, status: number, title: string, message: string): void {
  // Glance answers errors as text/plain-ish HTML-free JSON bodies through webob: {code, title, message}
  res.status(status).json({ code: status, title, message });
}

export function glanceRouter(deps: { images: () => SandboxImage[]; baseUrl: () => string }): Router {
  const r = express.Router();
  const versions = (_req: Request, res: Response): void => {
    res.status(300).json({ versions: [{ id: 'v2.9', status: 'CURRENT', links: [{ rel: 'self', href: `${deps.baseUrl()}/image/v2/` }] }] });
  };
  r.get('/', versions);
  r.get('/versions', (_req, res) => {
    res.json({ versions: [{ id: 'v2.9', status: 'CURRENT', links: [{ rel: 'self', href: `${deps.baseUrl()}/image/v2/` }] }] });
  });
  r.get('/v2/images', (req: Request, res: Response) => {
    const q = req.query as Record<string, unknown>;
    let list = deps.images();
    if (typeof q.name === 'string') list = list.filter((i) => i.name === q.name);
    if (typeof q.id === 'string') list = list.filter((i) => q.id === i.id || (q.id as string).startsWith('in:') && (q.id as string).slice(3).split(',').includes(i.id));
    // one page: the sandbox has a handful of images, so there is never a `next`
    res.json({ images: list.map((i) => imageView(i)), schema: '/v2/schemas/images', first: '/v2/images' });
  });
  r.get('/v2/images/:id', (req: Request, res: Response) => {
    const i = deps.images().find((x) => x.id === req.params.id);
    if (!i) return glanceError(res, 404, 'Not Found', `No image found with ID ${String(req.params.id)}`);
    res.json(imageView(i));
  });
  r.use((_req: Request, res: Response) => glanceError(res, 404, 'Not Found', 'The resource could not be found.'));
  return r;
}
