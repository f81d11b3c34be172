// Summary of the .cpuprofile files `node --cpu-prof` wrote for imflow (one per thread): self time per
// function and per package, so docs/benchmarks.md can say where the CPU went.
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** node_modules/<pkg> (scoped too), node:internal, or the project file. */
function owner(url: string): string {
  if (!url) return '(native/idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node (built-in)';
  const m = url.match(/\/(activities|api|channels|runtime|workflows|pipelines)\//);
  return m ? `imflow ${m[1]}/` : path.basename(url);
}

export function summariseProfiles(dir: string, top = 15) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
  return files.map((file) => {
    const p = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<number, number>();
    p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
    const fn = new Map<string, number>();
    const pkg = new Map<string, number>();
    let idle = 0;
    let total = 0;
    for (const [id, us] of selfUs) {
      const n = byId.get(id)!;
      const name = n.callFrame.functionName || '(anonymous)';
      total += us;
      if (name === '(idle)' || name === '(program)') {
        if (name === '(idle)') idle += us;
        continue;
      }
      const key = `${name} ${n.callFrame.url ? `${owner(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '(native)'}`;
      fn.set(key, (fn.get(key) ?? 0) + us);
      const o = name === '(garbage collector)' ? '(garbage collector)' : owner(n.callFrame.url);
      pkg.set(o, (pkg.get(o) ?? 0) + us);
    }
    const busy = total - idle;
    const list = (m: Map<string, number>) =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => ({ what: k, ms: Math.round(us / 1000), pctOfBusy: busy ? Math.round((us / busy) * 1000) / 10 : 0 }));
    return {
      file,
      wallS: Math.round((p.endTime - p.startTime) / 1e5) / 10,
      busyS: Math.round(busy / 1e5) / 10,
      byPackage: list(pkg),
      byFunction: list(fn),
    };
  });
}
