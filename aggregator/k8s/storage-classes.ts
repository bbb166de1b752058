// The cluster's StorageClasses and CSIDrivers for the cluster checks (GET /api/v1/summary). Dashboards may
// poll the summary, so the lists are reused for a minute (a failed list, 5 s) and concurrent summaries
// share one.
import { type KubeConfig, StorageV1Api } from '@kubernetes/client-node';
import { errorMessage } from '../../report/error-message.js';

/** How long a StorageClass list is reused; a failed list, this long. */
export const STORAGE_CLASS_TTL_MS = 60_000;
export const STORAGE_CLASS_ERROR_TTL_MS = 5_000;

export interface StorageClassView {
  name: string;
  annotations: Record<string, string>;
  /** The class's provisioner: a CSI driver's name, `kubernetes.io/no-provisioner`, an in-tree one. */
  provisioner: string;
}

/** The CSIDriver names, or null with the error when that list failed (the StorageClasses still count). */
export type CsiDriverList = { csiDrivers: string[] } | { csiDrivers: null; csiDriverError: string };

/** The lists, or null with the first line of the error when listing StorageClasses failed. */
export type StorageClassList = (
  | { storageClasses: StorageClassView[] }
  | { storageClasses: null; storageClassError: string }
) &
  CsiDriverList;

async function listCsiDrivers(storage: StorageV1Api): Promise<CsiDriverList> {
  try {
    const list = await storage.listCSIDriver();
    return { csiDrivers: list.items.map((d) => d.metadata?.name ?? '').filter((n) => n !== '') };
  } catch (err) {
    return { csiDrivers: null, csiDriverError: errorMessage(err, { firstLine: true }) };
  }
}

async function listStorageClasses(storage: StorageV1Api): Promise<StorageClassList> {
  const drivers = listCsiDrivers(storage);
  try {
    const list = await storage.listStorageClass();
    return {
      storageClasses: list.items.map((sc) => ({
        name: sc.metadata?.name ?? '',
        annotations: sc.metadata?.annotations ?? {},
        provisioner: sc.provisioner,
      })),
      ...(await drivers),
    };
  } catch (err) {
    return {
      storageClasses: null,
      storageClassError: errorMessage(err, { firstLine: true }),
      ...(await drivers),
    };
  }
}

/** A function answering the (cached) StorageClass list; it never rejects. */
export function cachedStorageClasses(
  kubeConfig: KubeConfig,
  clock: () => number = Date.now,
): () => Promise<StorageClassList> {
  const storage = kubeConfig.makeApiClient(StorageV1Api);
  let cache: { at: number; ttl: number; value: Promise<StorageClassList> } | undefined;
  return () => {
    const now = clock();
    if (cache && now - cache.at < cache.ttl) return cache.value;
    const entry = { at: now, ttl: STORAGE_CLASS_TTL_MS, value: listStorageClasses(storage) };
    cache = entry;
    void entry.value.then((v) => {
      if (v.storageClasses === null) entry.ttl = STORAGE_CLASS_ERROR_TTL_MS;
    });
    return entry.value;
  };
}
