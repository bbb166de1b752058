// Self time of a `.cpuprofile` (V8's `--cpu-prof` output), grouped for deciding what to cut in ingest:
// by function (name + file:line) and by package/area. Pure: reads the JSON, returns rows.

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  what: string;
  /** Share of the non-idle samples, 0..1. */
  share: number;
  ms: number;
}

/** The area a frame belongs to: a package, our layer, Node's internals, or V8's pseudo-frames. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return `native ${functionName || '(anonymous)'}`;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] ?? url;
  const ours = /\/dist\/([^/]+(?:\/[^/]+)?)\//.exec(url);
  if (ours) return `ours ${ours[1]}`;
  if (url.startsWith('node:')) {
    const mod = /^node:internal\/([^/]+(?:\/[^/.]+)?)/.exec(url);
    return `node ${mod ? mod[1] : url.slice(5)}`;
  }
  return url.replace(/^.*\//, '');
}

/** Self time by function and by area, over the non-idle samples, largest first. */
export function summarise(profile: CpuProfile, top = 25): { byFunction: ProfileRow[]; byArea: ProfileRow[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const timeOf = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of timeOf) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    const a = areaOf(frame);
    if (a === '(idle)') continue;
    busy += us;
    const key = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([what, us]) => ({ what, share: busy > 0 ? us / busy : 0, ms: us / 1000 }));
  return { byFunction: rows(fn), byArea: rows(area) };
}
