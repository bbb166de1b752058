// The cluster's StorageClasses for the cluster checks (GET /api/v1/summary). Dashboards may poll the
// summary, so the list is reused for a minute (a failed list, 5 s) and concurrent summaries share one.
import { type KubeConfig, StorageV1Api } from '@kubernetes/client-node';
import { errorMessage } from '../../report/error-message.js';

/** How long a StorageClass list is reused; a failed list, this long. */
export const STORAGE_CLASS_TTL_MS = 60_000;
export const STORAGE_CLASS_ERROR_TTL_MS = 5_000;

export interface StorageClassView {
  name: string;
  annotations: Record<string, string>;
}

/** The list, or null with the first line of the error when listing failed. */
export type StorageClassList =
  | { storageClasses: StorageClassView[] }
  | { storageClasses: null; storageClassError: string };

async function listStorageClasses(storage: StorageV1Api): Promise<StorageClassList> {
  try {
    const list = await storage.listStorageClass();
    return {
      storageClasses: list.items.map((sc) => ({
        name: sc.metadata?.name ?? '',
        annotations: sc.metadata?.annotations ?? {},
      })),
    };
  } catch (err) {
    return { storageClasses: null, storageClassError: errorMessage(err, { firstLine: true }) };
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
