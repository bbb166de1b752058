// Listing every Node a page at a time. One unpaginated LIST parses every Node of the cluster into typed
// objects at once (a real Node is ~15 KB: images, managedFields), which at a few thousand nodes exceeds
// the aggregator's heap; a page handed to the caller before the next is fetched bounds that to one page.
import type { CoreV1Api, V1Node } from '@kubernetes/client-node';
import { apiStatus } from './api-errors.js';

export const NODE_PAGE_SIZE = 500;
/** Bounds the loop: 5,000,000 nodes at the default page size. */
const MAX_PAGES = 10_000;
/** Restarts after an expired continue token before giving up (the caller's own retry takes over). */
const MAX_RESTARTS = 3;

export type NodeLister = Pick<CoreV1Api, 'listNode'>;

export interface NodePagesOptions {
  limit?: number;
  /** The list started over (its continue token expired): drop what the earlier pages delivered. */
  onRestart?: () => void;
}

export interface NodePagesResult {
  /** The list's resourceVersion (the last page's: every page of one list is the same snapshot). */
  resourceVersion: string | undefined;
  /** False when `onPage` returned false (the caller lost interest); the list then stopped early. */
  complete: boolean;
}

/**
 * Lists all nodes in pages of `limit`, handing each page's items to `onPage` before fetching the next.
 * A 410 on a continue token (the snapshot it pins was compacted away, after ~5 minutes) restarts the list
 * from the first page; any other error is thrown.
 */
export async function listNodesInPages(
  core: NodeLister,
  onPage: (items: V1Node[]) => boolean | undefined,
  options: NodePagesOptions = {},
): Promise<NodePagesResult> {
  const limit = options.limit ?? NODE_PAGE_SIZE;
  let restarts = 0;
  let next: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    let list: Awaited<ReturnType<NodeLister['listNode']>>;
    try {
      list = await core.listNode({ limit, ...(next ? { _continue: next } : {}) });
    } catch (err) {
      if (next === undefined || apiStatus(err) !== 410 || restarts >= MAX_RESTARTS) throw err;
      restarts++;
      next = undefined;
      options.onRestart?.();
      continue;
    }
    if (onPage(list.items) === false) return { resourceVersion: undefined, complete: false };
    next = list.metadata?._continue || undefined;
    if (!next) return { resourceVersion: list.metadata?.resourceVersion, complete: true };
  }
  throw new Error(`more than ${MAX_PAGES} pages of nodes`);
}
