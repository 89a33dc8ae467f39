import { CONTROL_KINDS, KINDS, toCrd } from '../../resources/index.js';
import { CORE, type KubeClient, type KubeObject } from '../runtime/index.js';

/** Field manager of everything `vmsctl install` writes. */
export const INSTALL_FIELD_MANAGER = 'vmsctl-install';

/** Every vmsctl CRD, generated from the same schemas that validate manifests. */
export function crdObjects(): KubeObject[] {
  return [...KINDS, ...CONTROL_KINDS].map((k) => toCrd(k) as unknown as KubeObject);
}

/**
 * Applies the CRDs and waits until the apiserver serves them (Established), so objects of
 * those kinds can be written right after.
 */
export async function installCrds(client: KubeClient, timeoutMs = 60_000): Promise<string[]> {
  const crds = crdObjects();
  await Promise.all(
    crds.map((crd) =>
      client.apply(CORE.CustomResourceDefinition, crd, {
        fieldManager: INSTALL_FIELD_MANAGER,
        force: true,
      }),
    ),
  );
  const names = crds.map((c) => c.metadata.name);
  await waitEstablished(client, names, timeoutMs);
  return names;
}

/** Resolves when every named CRD reports Established=True. */
export async function waitEstablished(
  client: KubeClient,
  names: string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const crd = await client.get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >(CORE.CustomResourceDefinition, { name });
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
        break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${name} not established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
