import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Logger } from '../runtime/index.js';

export interface WebhookOptions {
  port: number;
  host?: string;
  /** The HMAC secret of a FleetSync, or undefined when it has none (hook refused). */
  secretOf(name: string): Promise<string | undefined>;
  /** Called for an authenticated push: reconcile that FleetSync now. */
  trigger(name: string): void;
  log: Logger;
}

const MAX_BODY = 1 << 20;

/**
 * Receives push webhooks at `POST /hooks/fleetsync/<name>`. The body must carry a GitHub-style
 * `X-Hub-Signature-256: sha256=<hex HMAC of the body>` made with the FleetSync's webhook
 * secret (Gitea and Gogs send the same header); anything else is refused without a hint of
 * which FleetSyncs exist.
 */
export function startWebhookServer(options: WebhookOptions): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const m = /^\/hooks\/fleetsync\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) {
      res.writeHead(404).end();
      return;
    }
    const name = m[1]!;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      void (async () => {
        const secret = await options.secretOf(name).catch(() => undefined);
        const header = req.headers['x-hub-signature-256'];
        const body = Buffer.concat(chunks);
        if (!secret || typeof header !== 'string' || !validSignature(secret, body, header)) {
          options.log.warn('webhook refused', {
            fleetsync: name,
            reason: secret ? 'bad signature' : 'no secret',
          });
          res.writeHead(401).end();
          return;
        }
        options.trigger(name);
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
      })();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve(server));
  });
}

/** Constant-time check of `sha256=<hex>` against the body's HMAC. */
export function validSignature(secret: string, body: Buffer, header: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
