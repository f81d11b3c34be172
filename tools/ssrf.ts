import dns from 'node:dns';
import net from 'node:net';

// What a tool may reach. The model fills in arguments, so a prompt could otherwise point a tool at
// the metadata service or an internal admin page. Two checks: the final URL's host must be on the
// admin's allowlist, and every address it resolves to must be public, unless that exact host is
// listed by name (an intranet ERP is legitimate when an admin named it; a wildcard does not count).

/** "erp.example.com", "erp.example.com:8443", "*.example.com", "10.0.0.5:8080", "[fd00::1]:8080" */
const ENTRY = /^(\*\.)?([a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::(\d{1,5}))?$/;

export interface AllowEntry {
  wildcard: boolean;
  host: string;
  /** absent: the scheme's default port only (80 / 443) */
  port?: number;
}

/** An allowlist entry parsed, or why it is not one. */
export function parseAllowEntry(text: string): AllowEntry | string {
  const m = ENTRY.exec(text.trim().toLowerCase());
  if (!m) return `"${text}" is not a host, host:port or *.domain entry`;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return `"${text}": port out of range`;
  const host = m[2]!.replace(/^\[|\]$/g, '');
  if (m[1] && net.isIP(host)) return `"${text}": a wildcard needs a domain, not an address`;
  return { wildcard: !!m[1], host, port };
}

const defaultPort = (url: URL) => (url.protocol === 'https:' ? 443 : 80);
/** URL.hostname keeps IPv6 brackets and may end with a root dot. */
export const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();

/** Whether the URL's host and port are on the list, and whether by an exact (non-wildcard) entry. */
export function allowlistMatch(url: URL, allowedHosts: readonly string[]): { allowed: boolean; explicit: boolean } {
  const host = hostOf(url);
  const port = url.port ? Number(url.port) : defaultPort(url);
  let allowed = false;
  for (const text of allowedHosts) {
    const e = parseAllowEntry(text);
    if (typeof e === 'string' || (e.port ?? defaultPort(url)) !== port) continue;
    if (!e.wildcard && e.host === host) return { allowed: true, explicit: true };
    if (e.wildcard && host.endsWith(`.${e.host}`)) allowed = true;
  }
  return { allowed, explicit: false };
}

const blocked = new net.BlockList();
for (const [net4, bits] of [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT; Alibaba Cloud's metadata service is 100.100.100.200
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, including 169.254.169.254 (cloud metadata)
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) blocked.addSubnet(net4, bits, 'ipv4');
for (const [net6, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local, including AWS's fd00:ec2::254
  ['fe80::', 10],
  ['ff00::', 8],
] as const) blocked.addSubnet(net6, bits, 'ipv6');

/** Private, loopback, link-local, metadata or otherwise not-the-internet addresses. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse rather than guess
  // IPv4-mapped / -compatible IPv6 (::ffff:127.0.0.1) reaches the IPv4 address
  const mapped = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex) {
    const n = (parseInt(hex[1]!, 16) << 16) | parseInt(hex[2]!, 16);
    return blocked.check([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'), 'ipv4');
  }
  return blocked.check(address, 'ipv6');
}

export type Lookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemLookup: Lookup = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export type Destination = { ok: true; address: string; family: number } | { ok: false; reason: string };

/**
 * Where a tool call may connect, checked on the final URL: scheme, allowlist, then every address the
 * host resolves to. The caller connects to the returned address only, so a second DNS answer (DNS
 * rebinding) cannot send the request elsewhere.
 */
export async function checkDestination(url: URL, allowedHosts: readonly string[], lookup: Lookup = systemLookup): Promise<Destination> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `refused: only http and https URLs may be called (got ${url.protocol})` };
  if (url.username || url.password) return { ok: false, reason: 'refused: credentials in the URL are not allowed (use a header with a secret)' };
  const host = hostOf(url);
  const where = url.port ? `${host}:${url.port}` : host;
  const { allowed, explicit } = allowlistMatch(url, allowedHosts);
  if (!allowed) return { ok: false, reason: `refused: host ${where} is not on the tools allowlist (tools.allowedHosts)` };
  let addresses: { address: string; family: number }[];
  if (net.isIP(host)) addresses = [{ address: host, family: net.isIP(host) }];
  else {
    try {
      addresses = await lookup(host);
    } catch (err) {
      return { ok: false, reason: `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
  }
  if (!addresses.length) return { ok: false, reason: `cannot resolve ${host}: no addresses` };
  const internal = addresses.find((a) => isPrivateAddress(a.address));
  if (internal && !explicit) {
    return { ok: false, reason: `refused: ${where} resolves to the private address ${internal.address}; list this exact host in tools.allowedHosts to allow it` };
  }
  return { ok: true, address: addresses[0]!.address, family: addresses[0]!.family };
}
