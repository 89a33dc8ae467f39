import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Credentials, SecretResolver } from './source-input.js';

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Reads secrets the way Kubernetes mounts them: `<root>/<namespace>/<secret>/<key>`, one
 * file per key (`username` + `password`, or `token`). The edge agent mounts each camera's
 * referenced Secrets there; nothing here writes or caches them.
 */
export class MountedSecrets implements SecretResolver {
  constructor(private readonly root: string) {}

  /** Resolves a secret reference; a missing secret is an error naming it, never its value. */
  async resolve(namespace: string, ref: { name: string; key?: string }): Promise<Credentials> {
    // Names come from validated manifests, but a path must never leave the mount.
    if (!NAME.test(namespace) || !NAME.test(ref.name) || (ref.key && !NAME.test(ref.key)))
      throw new Error(`secret reference ${namespace}/${ref.name} is not a valid name`);
    const dir = join(this.root, namespace, ref.name);
    const read = async (key: string) => {
      try {
        return (await readFile(join(dir, key), 'utf8')).replace(/\r?\n$/, '');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    };
    if (ref.key) {
      const token = await read(ref.key);
      if (token === undefined)
        throw new Error(`secret ${namespace}/${ref.name} has no key "${ref.key}"`);
      return { kind: 'token', token };
    }
    const [username, password, token] = await Promise.all([
      read('username'),
      read('password'),
      read('token'),
    ]);
    if (username !== undefined && password !== undefined)
      return { kind: 'basic', username, password };
    if (token !== undefined) return { kind: 'token', token };
    throw new Error(
      `secret ${namespace}/${ref.name} not found or has neither username+password nor token`,
    );
  }
}
