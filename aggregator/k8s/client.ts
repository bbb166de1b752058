// Where the Kubernetes configuration comes from, as kubectl finds it: --kubeconfig FILE, else the files of
// KUBECONFIG (a colon-separated list, merged: for each setting the first file that has it wins), else
// ~/.kube/config, else the in-cluster service account; --context picks a context other than the current
// one. The aggregator leaves ~/.kube/config out (`homeConfig: false`): a long-running writer must not start
// reconciling whatever cluster a workstation's kubectl points at; without the others it runs standalone.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigSource {
  /** --kubeconfig. */
  file?: string | undefined;
  /** --context: a context of the kubeconfig other than its current-context. */
  context?: string | undefined;
  /** Whether ~/.kube/config is read when neither --kubeconfig nor KUBECONFIG names a file (kubectl: yes). */
  homeConfig?: boolean;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/** What was loaded and from where (for messages), or null when there is no configuration at all. */
export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig | null {
  const env = source.env ?? process.env;
  const kc = new KubeConfig();
  const files = kubeconfigFiles(source, env);
  if (files.length > 0) {
    mergeFiles(kc, files);
    if (source.context !== undefined) useContext(kc, source.context, files);
    return kc;
  }
  if (env['KUBERNETES_SERVICE_HOST'] && existsSync(IN_CLUSTER_TOKEN)) {
    if (source.context !== undefined)
      throw new Error(`--context ${source.context}: in-cluster there is no kubeconfig`);
    kc.loadFromCluster();
    return kc;
  }
  if (source.context !== undefined) throw new Error(`--context ${source.context}: no kubeconfig found`);
  return null;
}

/** kubectl's merge: every cluster, user and context by name, the first file's winning; its current-context. */
function mergeFiles(kc: KubeConfig, files: string[]): void {
  const loaded = files.map((file) => {
    const one = new KubeConfig();
    one.loadFromFile(file); // relative certificate paths resolved against the file's directory
    return one;
  });
  const firstByName = <T extends { name: string }>(lists: T[][]): T[] => {
    const byName = new Map<string, T>();
    for (const item of lists.flat()) if (!byName.has(item.name)) byName.set(item.name, item);
    return [...byName.values()];
  };
  kc.loadFromOptions({
    clusters: firstByName(loaded.map((k) => k.getClusters())),
    users: firstByName(loaded.map((k) => k.getUsers())),
    contexts: firstByName(loaded.map((k) => k.getContexts())),
    currentContext: loaded.find((k) => k.getCurrentContext())?.getCurrentContext() ?? '',
  });
}

/** The files to load, in kubectl's order; KUBECONFIG entries that do not exist are skipped, as kubectl does. */
function kubeconfigFiles(source: KubeConfigSource, env: NodeJS.ProcessEnv): string[] {
  if (source.file) return [source.file];
  const listed = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter((f) => f !== '');
  if (listed.length > 0) {
    const present = [...new Set(listed)].filter((f) => existsSync(f));
    if (present.length === 0)
      throw new Error(`none of the KUBECONFIG files exists: ${listed.join(path.delimiter)}`);
    return present;
  }
  if (source.homeConfig === false) return [];
  const home = path.join(source.home ?? env['HOME'] ?? homedir(), '.kube', 'config');
  return existsSync(home) ? [home] : [];
}

function useContext(kc: KubeConfig, context: string, files: string[]): void {
  if (!kc.getContextObject(context)) {
    const known = kc.getContexts().map((c) => c.name);
    throw new Error(
      `--context ${context}: no such context in ${files.join(', ')} (contexts: ${known.join(', ') || 'none'})`,
    );
  }
  kc.setCurrentContext(context);
}

/** Where the configuration came from, for messages. */
export function describeKubeConfigSource(source: KubeConfigSource): string {
  if (source.file) return `--kubeconfig ${source.file}`;
  const env = source.env ?? process.env;
  if (env['KUBECONFIG']) return `KUBECONFIG=${env['KUBECONFIG']}`;
  return source.homeConfig === false
    ? 'the in-cluster configuration'
    : '~/.kube/config or the in-cluster configuration';
}
