// Realistic Node objects, as a kubelet registers them (labels, the four kubelet conditions, nodeInfo).
import type { JsonObject } from './json.js';

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  timeAdded?: string;
}

export interface MakeNodeOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  taints?: Taint[];
  /** Merged by type over the kubelet's defaults (Ready=True etc.); extra types are appended. */
  conditions?: NodeCondition[];
  /** e.g. `containerd://1.7.27` (the default). */
  containerRuntimeVersion?: string;
  kubeletVersion?: string;
  arch?: 'amd64' | 'arm64';
  ready?: boolean;
  unschedulable?: boolean;
  /** ISO time used for timestamps (default: a fixed instant, so objects are reproducible). */
  time?: string;
  /**
   * Realistic size: `status.images` with this many entries (a GPU node typically lists ~50) and the
   * `metadata.managedFields` a kubelet and controllers leave, so a node weighs ~15 KB as on a real cluster.
   */
  images?: number;
}

/** `status.images` as a kubelet reports it: two names (digest and tag) and a size per image. */
function imageList(count: number): JsonObject[] {
  const images: JsonObject[] = [];
  for (let i = 0; i < count; i++) {
    const repo = `registry.example.com/team-${i % 7}/workload-image-${i}`;
    const digest = (i.toString(16).padStart(8, '0') + 'c0ffee'.repeat(10)).slice(0, 64);
    images.push({
      names: [`${repo}@sha256:${digest}`, `${repo}:v1.${i}.0-cuda12.4-ubuntu22.04`],
      sizeBytes: 1_000_000_000 + i * 7_919,
    });
  }
  return images;
}

/** What kubelet, node-lifecycle controller and kube-proxy leave in `metadata.managedFields`. */
function managedFields(time: string): JsonObject[] {
  const entry = (manager: string, subresource: string | undefined, fields: JsonObject): JsonObject => ({
    manager,
    operation: 'Update',
    apiVersion: 'v1',
    time,
    fieldsType: 'FieldsV1',
    fieldsV1: fields,
    ...(subresource ? { subresource } : {}),
  });
  const conditionFields: JsonObject = {};
  for (const type of ['DiskPressure', 'MemoryPressure', 'PIDPressure', 'Ready']) {
    conditionFields[`k:{"type":"${type}"}`] = {
      '.': {},
      'f:lastHeartbeatTime': {},
      'f:lastTransitionTime': {},
      'f:message': {},
      'f:reason': {},
      'f:status': {},
      'f:type': {},
    };
  }
  return [
    entry('kubelet', undefined, {
      'f:metadata': {
        'f:annotations': { '.': {}, 'f:volumes.kubernetes.io/controller-managed-attach-detach': {} },
        'f:labels': {
          '.': {},
          'f:beta.kubernetes.io/arch': {},
          'f:beta.kubernetes.io/os': {},
          'f:kubernetes.io/arch': {},
          'f:kubernetes.io/hostname': {},
          'f:kubernetes.io/os': {},
        },
      },
    }),
    entry('kube-controller-manager', undefined, {
      'f:metadata': { 'f:annotations': { 'f:node.alpha.kubernetes.io/ttl': {} } },
      'f:spec': { 'f:podCIDR': {}, 'f:podCIDRs': { '.': {}, 'v:"10.244.0.0/24"': {} } },
    }),
    entry('kubelet', 'status', {
      'f:status': {
        'f:allocatable': { 'f:cpu': {}, 'f:ephemeral-storage': {}, 'f:memory': {}, 'f:pods': {} },
        'f:capacity': { 'f:cpu': {}, 'f:ephemeral-storage': {}, 'f:memory': {}, 'f:pods': {} },
        'f:conditions': conditionFields,
        'f:images': {},
        'f:nodeInfo': { 'f:bootID': {}, 'f:containerRuntimeVersion': {}, 'f:kernelVersion': {} },
      },
    }),
  ];
}

const FIXED_TIME = '2025-01-01T00:00:00Z';

export function kubeletConditions(time = FIXED_TIME, ready = true): NodeCondition[] {
  const c = (
    type: string,
    status: NodeCondition['status'],
    reason: string,
    message: string,
  ): NodeCondition => ({
    type,
    status,
    lastHeartbeatTime: time,
    lastTransitionTime: time,
    reason,
    message,
  });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    ready
      ? c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
      : c('Ready', 'False', 'KubeletNotReady', 'container runtime network not ready'),
  ];
}

export function makeNode(name: string, opts: MakeNodeOptions = {}): JsonObject {
  const time = opts.time ?? FIXED_TIME;
  const arch = opts.arch ?? 'amd64';
  const conditions = kubeletConditions(time, opts.ready ?? true);
  for (const extra of opts.conditions ?? []) {
    const full: NodeCondition = { lastHeartbeatTime: time, lastTransitionTime: time, ...extra };
    const idx = conditions.findIndex((c) => c.type === extra.type);
    if (idx >= 0) conditions[idx] = full;
    else conditions.push(full);
  }
  const spec: JsonObject = {};
  if (opts.taints && opts.taints.length > 0) spec['taints'] = opts.taints;
  if (opts.unschedulable) spec['unschedulable'] = true;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'beta.kubernetes.io/arch': arch,
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': arch,
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        ...(opts.labels ?? {}),
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        ...(opts.annotations ?? {}),
      },
      creationTimestamp: time,
      ...(opts.images !== undefined ? { managedFields: managedFields(time) } : {}),
    },
    spec,
    status: {
      capacity: { cpu: '16', 'ephemeral-storage': '514937088Ki', memory: '65842028Ki', pods: '110' },
      allocatable: { cpu: '16', 'ephemeral-storage': '474560664400', memory: '65739628Ki', pods: '110' },
      conditions,
      addresses: [
        { type: 'InternalIP', address: '10.0.0.1' },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: '0123456789abcdef0123456789abcdef',
        systemUUID: '01234567-89ab-cdef-0123-456789abcdef',
        bootID: '89abcdef-0123-4567-89ab-cdef01234567',
        kernelVersion: '5.15.0-119-generic',
        osImage: 'Ubuntu 22.04.4 LTS',
        containerRuntimeVersion: opts.containerRuntimeVersion ?? 'containerd://1.7.27',
        kubeletVersion: opts.kubeletVersion ?? 'v1.31.4',
        kubeProxyVersion: opts.kubeletVersion ?? 'v1.31.4',
        operatingSystem: 'linux',
        architecture: arch,
      },
      ...(opts.images !== undefined ? { images: imageList(opts.images) } : {}),
    },
  };
}

export function makePod(namespace: string, name: string, nodeName: string, uid?: string): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid: uid ?? crypto.randomUUID(), labels: {} },
    spec: {
      nodeName,
      containers: [{ name: 'main', image: 'example/agent:latest' }],
      serviceAccountName: 'default',
    },
    status: { phase: 'Running' },
  };
}

export function makeStorageClass(name: string, isDefault = false): JsonObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: {
      name,
      annotations: isDefault ? { 'storageclass.kubernetes.io/is-default-class': 'true' } : {},
    },
    provisioner: 'rancher.io/local-path',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
}
