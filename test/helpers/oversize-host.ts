// A fixture host where every bounded read of a probe cycle is at (or past) its cap at once: the GPU host
// `ubuntu2204-gpu-pass` plus the control plane's kube-apiserver manifest and EncryptionConfiguration, each
// file and each command's output grown with plausible content (more mounts, more CPUs, longer outputs)
// up to the cap the agent reads it with. For the test that the agent survives them under the DaemonSet's
// flags, and for measuring what they cost.
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_MAX_BUFFER, DEFAULT_MAX_READ } from '../../agent/host.js';
import { KUBE_APISERVER_MANIFEST_MAX_BYTES } from '../../agent/probes/api-server-encryption.js';
import { MOUNTINFO_MAX_BYTES } from '../../agent/probes/block-device.js';
import { CPUINFO_MAX_BYTES } from '../../agent/probes/cpu.js';
import { CONTAINERD_CONFIG_MAX_BYTES } from '../../agent/probes/disks.js';
import { ENCRYPTION_CONFIG_MAX_BYTES } from '../../agent/probes/encryption-config.js';
import { NVIDIA_SMI_XML_MAX_BYTES } from '../../agent/probes/gpu.js';
import { fixtureHostPath, realFixturePath } from './fixture-host.js';

/** The caps the agent reads with, each from the module that applies it. */
export interface OversizeCaps {
  /** host.readFile's default (meminfo, os-release, resolv.conf, ...). */
  readBytes: number;
  cpuinfoBytes: number;
  /** host.exec's default stdout cap (uname, containerd, getent, nvidia-ctk). */
  execBytes: number;
  mountinfoBytes: number;
  nvidiaSmiXmlBytes: number;
  containerdConfigBytes: number;
  apiServerManifestBytes: number;
  encryptionConfigBytes: number;
}

export const AGENT_CAPS: OversizeCaps = {
  readBytes: DEFAULT_MAX_READ,
  cpuinfoBytes: CPUINFO_MAX_BYTES,
  execBytes: DEFAULT_MAX_BUFFER,
  mountinfoBytes: MOUNTINFO_MAX_BYTES,
  nvidiaSmiXmlBytes: NVIDIA_SMI_XML_MAX_BYTES,
  containerdConfigBytes: CONTAINERD_CONFIG_MAX_BYTES,
  apiServerManifestBytes: KUBE_APISERVER_MANIFEST_MAX_BYTES,
  encryptionConfigBytes: ENCRYPTION_CONFIG_MAX_BYTES,
};

/** `unit` repeated (each copy made by `make(i)`) after `head` until `bytes` is reached or just passed. */
function grow(head: string, bytes: number, make: (i: number) => string): string {
  const parts = [head];
  let size = head.length;
  for (let i = 0; size < bytes; i++) {
    const part = make(i);
    parts.push(part);
    size += part.length;
  }
  return parts.join('');
}

async function put(root: string, file: string, text: string, mode?: number): Promise<void> {
  const target = path.join(root, file);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, text, mode === undefined ? undefined : { mode });
}

/** A command that prints `file` (under the host root) for any arguments. */
async function commandPrinting(root: string, command: string, file: string, text: string): Promise<void> {
  await put(root, file, text);
  await put(root, `usr/bin/${command}`, `#!/bin/sh\ncat "$(dirname "$0")/../../${file}"\n`);
  await chmod(path.join(root, `usr/bin/${command}`), 0o755);
}

/** nvidia-smi's real 2-GPU output with its <gpu> elements repeated up to just under `bytes`. */
async function manyGpuXml(bytes: number): Promise<string> {
  const xml = await readFile(
    realFixturePath('nvidia-smi/nvidia-smi-q-x_RTXA5000x2_590.44.01_cuda13.1.xml'),
    'utf8',
  );
  const first = xml.indexOf('<gpu ');
  const end = xml.lastIndexOf('</nvidia_smi_log>');
  const gpus = xml.slice(first, end);
  const head = xml.slice(0, first);
  const tail = xml.slice(end);
  const copies = Math.max(1, Math.floor((bytes - head.length - tail.length) / gpus.length));
  return head + gpus.repeat(copies) + tail;
}

async function writeFiles(root: string, caps: OversizeCaps): Promise<void> {
  const mountHead = '22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n';
  await put(
    root,
    'proc/1/mountinfo',
    grow(mountHead, caps.mountinfoBytes, (i) => {
      const pod = `${String(i).padStart(8, '0')}-7d19-9063-b049-1e69664bb298`;
      return `${1000 + i} 22 0:${100 + (i % 900)} / /var/lib/kubelet/pods/${pod}/volumes/kubernetes.io~projected/kube-api-access-${i} rw,relatime shared:${i} - tmpfs tmpfs rw,size=4194304k\n`;
    }),
  );
  const cpuinfo = await readFile(path.join(root, 'proc/cpuinfo'), 'utf8');
  const block = `${cpuinfo.split('\n\n')[0]}\n\n`;
  await put(
    root,
    'proc/cpuinfo',
    grow('', caps.cpuinfoBytes, (i) => block.replace(/^processor\t: 0/, `processor\t: ${i}`)),
  );
  const meminfo = await readFile(path.join(root, 'proc/meminfo'), 'utf8');
  await put(
    root,
    'proc/meminfo',
    grow(meminfo, caps.readBytes, (i) => `Extra${i}:        0 kB\n`),
  );
  const osRelease = await readFile(path.join(root, 'etc/os-release'), 'utf8');
  await put(
    root,
    'etc/os-release',
    grow(osRelease, caps.readBytes, (i) => `# padding line ${i}\n`),
  );
  const resolv = await readFile(path.join(root, 'etc/resolv.conf'), 'utf8');
  await put(
    root,
    'etc/resolv.conf',
    grow(resolv, caps.readBytes, (i) => `search s${i}.example.com\n`),
  );
  await put(
    root,
    'etc/containerd/config.toml',
    grow(
      'version = 2\nroot = "/var/lib/containerd"\n',
      caps.containerdConfigBytes,
      (i) => `# comment ${i}\n`,
    ),
  );
  const manifest = await readFile(
    fixtureHostPath('control-plane/etc/kubernetes/manifests/kube-apiserver.yaml'),
    'utf8',
  );
  await put(
    root,
    'etc/kubernetes/manifests/kube-apiserver.yaml',
    // More flags in the command list (the file is parsed as YAML: it must stay a valid manifest).
    manifest.replace(
      '    - kube-apiserver\n',
      grow(
        '    - kube-apiserver\n',
        caps.apiServerManifestBytes - manifest.length,
        (i) => `    - --flag-${i}=value-${i}\n`,
      ),
    ),
  );
  const encryption = await readFile(
    fixtureHostPath('control-plane/etc/kubernetes/enc/encryption-config.yaml'),
    'utf8',
  );
  await put(
    root,
    'etc/kubernetes/enc/encryption-config.yaml',
    grow(
      encryption,
      caps.encryptionConfigBytes,
      (i) => `  - resources:\n      - r${i}.example.com\n    providers:\n      - identity: {}\n`,
    ),
  );
}

/** The commands a cycle runs, each printing up to its cap (the XML a valid document just under its cap). */
async function writeCommands(root: string, caps: OversizeCaps): Promise<void> {
  const under = caps.execBytes - 64;
  await commandPrinting(
    root,
    'uname',
    'var/out/uname',
    grow('x86_64\n', under, () => '\n'),
  );
  await commandPrinting(
    root,
    'containerd',
    'var/out/containerd',
    grow(
      'containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da\n',
      under,
      (i) => `note ${i}\n`,
    ),
  );
  await commandPrinting(
    root,
    'nvidia-ctk',
    'var/out/nvidia-ctk',
    grow('NVIDIA Container Toolkit CLI version 1.17.8\n', under, (i) => `note ${i}\n`),
  );
  await commandPrinting(
    root,
    'getent',
    'var/out/getent',
    grow('', under, (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}       STREAM gpu-node-01\n`),
  );
  await commandPrinting(
    root,
    'nvidia-smi',
    'var/out/nvidia-smi.xml',
    await manyGpuXml(caps.nvidiaSmiXmlBytes - 64),
  );
}

/** Writes the oversize host under `dir` and returns its root. */
export async function writeOversizeHost(dir: string, caps: OversizeCaps): Promise<string> {
  const root = path.join(dir, 'oversize-host');
  await cp(fixtureHostPath('ubuntu2204-gpu-pass'), root, { recursive: true });
  await writeFiles(root, caps);
  await writeCommands(root, caps);
  return root;
}
