// The labels the kubelet registers its node with (`--node-labels`, read from the host's kubelet service:
// kubelet-node-labels.ts), so `check` can tell an operator or control-plane node by the labels the cluster
// will see, without the API. null when the host has no kubelet unit and none of kubeadm's files.
import { LIMITS } from '../../report/limits.js';
import type { KubeletFacts } from '../../report/schema.js';
import { readKubeletNodeLabels } from './kubelet-node-labels.js';
import type { Probe } from './probe.js';
import { boundedString } from './support.js';

export const kubeletProbe: Probe<'kubelet', KubeletFacts | null> = {
  name: 'kubelet',
  timeoutMs: 3000,
  async run(host) {
    const read = await readKubeletNodeLabels(host);
    if (read === null) return null;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(read.labels).slice(0, LIMITS.kubelet.labelItems)) {
      labels[boundedString(k, LIMITS.kubelet.labelKey, '--node-labels key')] = boundedString(
        v,
        LIMITS.kubelet.labelValue,
        `--node-labels value of ${k}`,
      );
    }
    return {
      commandFrom: read.commandFrom,
      nodeType: read.nodeType && boundedString(read.nodeType.value, LIMITS.kubelet.labelValue, 'node-type'),
      nodeTypeFile: read.nodeType && boundedString(read.nodeType.file, LIMITS.kubelet.file, 'node-type file'),
      labels,
    };
  },
};
