// Home routers on one machine: network namespaces joined by veth pairs, Linux NAT done by nftables
// (the recipe of ../shared/research/nat.md). Each lab gets namespaces named cnl-<pid>-<n>-<host>, so
// test files running in parallel never collide, and a lab whose process died is swept by the next
// one. Traffic never leaves the namespaces a lab creates: no link reaches the root namespace and no
// namespace has a route beyond the lab's own subnets.
//
// Layout (IPv4 only, IPv6 is off in every namespace; addresses are per lab, labs share nothing):
//   internet  a bridge in its own namespace, INTERNET_SUBNET (a private range on purpose)
//   public    hosts on the internet bridge, 10.200.0.10 upward, no default route
//   home      a router (10.200.0.100 upward on its "wan") doing NAT for a LAN bridge
//             (192.168.<n>.0/24, router .1, hosts .2 upward; every host on the same bridge)
//     easy    nft masquerade: endpoint-independent mapping, the source port kept when free
//     hard    nft masquerade random,fully-random: a new random port per destination
//     cgnat   an easy home router whose WAN is 100.64.0.2/24 behind a carrier NAT (its own
//             namespace, 10.200.0.x on the internet); the carrier is easy unless carrier: 'hard'
//   Every router (home and carrier) drops unsolicited inbound on its WAN side (ct state new or
//   invalid), except what a port forward DNATs to a LAN host.
//   portMapping: the home router runs miniupnpd (UPnP IGD and NAT-PMP on its LAN side), which adds
//   DNAT rules of its own for what LAN hosts ask; the WAN filter lets DNAT'd connections through.
//   miniupnpd refuses to map behind a private or reserved WAN address (10.200/24 included): a lab
//   whose routers must map uses a routable-looking internet (`internetNet`), still confined to it.
import { execFile, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeRequiring } from './requires.js';
import { processAlive } from '../../src/util/process-alive.js';

export type NatKind = 'easy' | 'hard' | 'cgnat';

export interface PortForward {
  proto: 'tcp' | 'udp';
  /** Port on the router's WAN address. */
  port: number;
  /** LAN host it goes to (default: the home's first host). */
  host?: string;
  /** Port on that host (default: `port`). */
  hostPort?: number;
}

export interface HomeSpec {
  /** Home name; its router is `<name>-router`, a CGNAT carrier `<name>-carrier`. */
  name: string;
  nat: NatKind;
  /** Hosts on the home LAN, one bridge (default: one host named like the home). */
  hosts?: string[];
  /** For nat 'cgnat': the carrier's mapping (default 'easy', RFC 6888 asks carriers for it). */
  carrier?: 'easy' | 'hard';
  portForwards?: PortForward[];
  /** Runs miniupnpd (nftables backend) on the home router for its LAN: UPnP IGD and NAT-PMP (true), or only one. */
  portMapping?: boolean | 'upnp' | 'nat-pmp';
}

export interface NatLabSpec {
  homes?: HomeSpec[];
  publicHosts?: string[];
  /**
   * The internet's /24 as three octets (default INTERNET_NET, private). miniupnpd maps only behind a
   * WAN address that is neither private nor reserved: such labs pass ROUTABLE_LOOKING_NET. No
   * namespace has a link to the machine's own network, so these addresses never leave the lab.
   */
  internetNet?: string;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kills the command after this long (default 30 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

type Role = 'internet' | 'public' | 'router' | 'carrier' | 'host';

interface Node {
  name: string;
  ns: string;
  role: Role;
  /** The address on its own interface (internet, LAN or carrier side). */
  address?: string;
  /** What the internet sees when this node connects out. */
  publicAddress?: string;
  home?: string;
}

export const NS_PREFIX = 'cnl-';
export const INTERNET_SUBNET = '10.200.0.0/24';
const INTERNET_NET = '10.200.0';
/** An internet that looks public to miniupnpd (25.0.0.0/8 is not announced on the real internet; it stays in the lab anyway). */
export const ROUTABLE_LOOKING_NET = '25.200.0';
const CARRIER_NET = '100.64.0';
const CMD_TIMEOUT_MS = 30_000;
const KILL_GRACE_MS = 3_000;
const MAX_HOSTS_PER_HOME = 50;
const MAX_HOMES = 50;
const MAX_PUBLIC = 50;
const NAME_RE = /^[a-z][a-z0-9-]{0,19}$/;

let labCounter = 0;

function run(cmd: string, args: string[], opts: ExecOptions & { input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? CMD_TIMEOUT_MS, env: opts.env ?? process.env, cwd: opts.cwd, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string | null; killed?: boolean }) | null;
        if (e?.killed) {
          reject(new Error(`${cmd} ${args.join(' ')}: killed after ${opts.timeoutMs ?? CMD_TIMEOUT_MS} ms`));
          return;
        }
        if (e && typeof e.code !== 'number' && e.code !== undefined && e.code !== null) {
          reject(new Error(`${cmd} ${args.join(' ')}: ${e.message}`));
          return;
        }
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

async function runOk(cmd: string, args: string[], opts: ExecOptions & { input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

async function listNamespaces(): Promise<string[]> {
  const out = await runOk('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NS_PREFIX));
}

/** Kills what still runs inside `ns` (processes a lab started there) and deletes it. */
async function removeNamespace(ns: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', ns]).catch(() => ({ code: 1, stdout: '', stderr: '' }));
  for (const p of pids.stdout
    .split('\n')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await run('ip', ['netns', 'del', ns]);
}

/** Deletes the namespaces of labs whose process is gone (a test run that was killed). */
export async function sweepStaleNatLabs(): Promise<string[]> {
  const swept: string[] = [];
  for (const ns of await listNamespaces()) {
    const pid = Number(ns.slice(NS_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    await removeNamespace(ns);
    swept.push(ns);
  }
  return swept;
}

/**
 * When this process exits with labs still up (a worker torn down before its afterAll ran), their
 * namespaces and what runs in them go with it; a process killed outright leaves them to the sweep.
 */
function removeOwnOnExit(): void {
  const own = `${NS_PREFIX}${process.pid}-`;
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const ns of list
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(own))) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
    for (const p of pids
      .split('\n')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

let exitHook = false;

let unavailable: Promise<string | undefined> | undefined;

/** Why namespaces cannot be used here (undefined when they can): root, ip, nft, a namespace made and removed. */
export function natLabUnavailable(): Promise<string | undefined> {
  unavailable ??= (async () => {
    if (process.platform !== 'linux') return 'network namespaces need Linux';
    if (process.getuid?.() !== 0) return 'network namespaces need root (run the tests as root, as CI does)';
    for (const tool of ['ip', 'nft']) {
      const r = await run(tool, ['-V']).catch((err: Error) => ({ code: null, stdout: '', stderr: err.message }));
      if (r.code !== 0) return `\`${tool}\` is missing (apt-get install iproute2 nftables): ${r.stderr.trim()}`;
    }
    const probe = `${NS_PREFIX}${process.pid}-probe${labCounter++}`;
    const add = await run('ip', ['netns', 'add', probe]);
    if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
    try {
      // what every router needs: NAT chains with both kinds of masquerade, and conntrack matches
      const nft = await run('ip', ['netns', 'exec', probe, 'nft', '-f', '-'], {
        input:
          nftRouter({ nat: 'hard', forwards: [{ proto: 'tcp', port: 1, to: '192.168.1.2', toPort: 1 }] }) +
          nftRouter({ nat: 'easy', forwards: [] }).replace(/cairnlab_/g, 'probe_'),
      });
      if (nft.code !== 0) return `nftables NAT does not work in a namespace (kernel modules nf_nat, nft_masq, nft_ct?): ${nft.stderr.trim()}`;
    } finally {
      await run('ip', ['netns', 'del', probe]);
    }
    return undefined;
  })();
  return unavailable;
}

/** describe() for tests on namespaces: fails under CI when they are unavailable, skips saying why elsewhere. */
export function describeNatLab(name: string, fn: () => void): void {
  describeRequiring('network namespaces with nftables are available', whyUnavailable, name, fn);
}

// A home router's firewall: what arrives on the WAN side is dropped unless it answers a connection
// from inside (conntrack) or a port forward sent it to a LAN host. Without it an unsolicited packet
// creates a conntrack entry that takes the port a NAT mapping needed (research/nat.md).
const WAN_FILTER = `table inet cairnlab_filter {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "wan" ct state { new, invalid } drop
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "wan" ct status dnat accept
    iifname "wan" ct state { new, invalid } drop
  }
}
`;

function nftRouter(opts: { nat: 'easy' | 'hard'; forwards: Array<{ proto: string; port: number; to: string; toPort: number }> }): string {
  const masq = opts.nat === 'hard' ? 'masquerade random,fully-random' : 'masquerade';
  const dnat = opts.forwards.map((f) => `    iifname "wan" ${f.proto} dport ${f.port} dnat to ${f.to}:${f.toPort}`).join('\n');
  return `table ip cairnlab_nat {
  chain post {
    type nat hook postrouting priority 100; policy accept;
    oifname "wan" ${masq}
  }
  chain pre {
    type nat hook prerouting priority -100; policy accept;
${dnat}
  }
}
${WAN_FILTER}`;
}

const whyUnavailable = await natLabUnavailable();

const MINIUPNPD_START_MS = 10_000;

// miniupnpd's chains (as its nft_init.sh makes them): DNAT in prerouting, accept in forward.
const MINIUPNPD_TABLE = `table inet cairnlab_upnp {
  chain forward {
    type filter hook forward priority 0; policy accept;
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
`;

let miniupnpd: Promise<string | undefined> | undefined;

/** Why a lab router cannot run miniupnpd here (undefined when it can). */
export function miniupnpdUnavailable(): Promise<string | undefined> {
  miniupnpd ??= run('miniupnpd', ['--version'])
    .then((r) => (/netfilter\(nftables\)/.test(r.stdout + r.stderr) ? undefined : `miniupnpd is not the nftables build: ${(r.stdout + r.stderr).trim()}`))
    .catch((err: Error) => `miniupnpd is missing (apt-get install miniupnpd-nftables): ${err.message}`);
  return miniupnpd;
}

/** describe() for tests whose lab routers map ports (miniupnpd): as describeNatLab, and miniupnpd must be there. */
export function describeNatLabUpnp(name: string, fn: () => void): void {
  describeRequiring('network namespaces with nftables and miniupnpd-nftables are available', whyUnavailable ?? whyMiniupnpd, name, fn);
}

const whyMiniupnpd = await miniupnpdUnavailable();

export class NatLab {
  readonly id: string;
  private readonly nodes = new Map<string, Node>();
  private readonly children = new Set<ChildProcess>();
  private readonly tempDirs: string[] = [];
  private destroyed = false;

  private constructor(id: string) {
    this.id = id;
  }

  /** Builds the lab; on any failure removes what it made and throws. */
  static async create(spec: NatLabSpec): Promise<NatLab> {
    const why = await natLabUnavailable();
    if (why) throw new Error(`natlab: ${why}`);
    await sweepStaleNatLabs();
    if (!exitHook) {
      exitHook = true;
      process.once('exit', removeOwnOnExit);
    }
    const lab = new NatLab(`${NS_PREFIX}${process.pid}-${labCounter++}`);
    try {
      await lab.build(spec);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  /** Host names in this lab. */
  get hosts(): string[] {
    return [...this.nodes.keys()];
  }

  nsOf(host: string): string {
    return this.get(host).ns;
  }

  /** The host's address on its own interface (LAN address for a home host). */
  addressOf(host: string): string {
    const a = this.get(host).address;
    if (!a) throw new Error(`natlab: ${host} has no address`);
    return a;
  }

  /** The address the internet sees when `hostOrHome` connects out (router WAN, carrier WAN, or its own). */
  publicAddressOf(hostOrHome: string): string {
    const n = this.nodes.get(hostOrHome) ?? this.nodes.get(`${hostOrHome}-router`);
    const a = n?.publicAddress;
    if (!a) throw new Error(`natlab: no host or home named ${hostOrHome}`);
    return a;
  }

  routerOf(home: string): string {
    return this.get(`${home}-router`).name;
  }

  /** Runs `cmd args` inside the host's namespace and waits for it (any exit code resolves). */
  exec(host: string, cmd: string, args: string[] = [], opts: ExecOptions & { input?: string } = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.nsOf(host), cmd, ...args], opts);
  }

  /** Like exec, throwing with stderr unless it exits 0; resolves to stdout. */
  async execOk(host: string, cmd: string, args: string[] = [], opts: ExecOptions & { input?: string } = {}): Promise<string> {
    const r = await this.exec(host, cmd, args, opts);
    if (r.code !== 0) throw new Error(`[${host}] ${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /** Runs a Node script (`node -e`) inside the host's namespace, with this process's Node. */
  node(host: string, script: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(host, process.execPath, ['-e', script, ...args], opts);
  }

  /** Starts a long-running process inside the host's namespace; destroy() kills it if still running. */
  spawn(host: string, cmd: string, args: string[] = [], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error('natlab: the lab is destroyed');
    const child = spawn('ip', ['netns', 'exec', this.nsOf(host), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Applies an nft script (`nft -f -`) in the host's namespace. */
  async nft(host: string, script: string): Promise<void> {
    await this.execOk(host, 'nft', ['-f', '-'], { input: script });
  }

  /**
   * Turns a router's "drop unsolicited inbound on the WAN side" rules off or back on (a test's
   * negative control: with them off, unsolicited probes must get through).
   */
  async dropUnsolicited(router: string, on: boolean): Promise<void> {
    const n = this.get(router);
    if (n.role !== 'router' && n.role !== 'carrier') throw new Error(`natlab: ${router} is not a router`);
    if (on) await this.nft(router, WAN_FILTER);
    else await this.execOk(router, 'nft', ['delete', 'table', 'inet', 'cairnlab_filter']);
  }

  /** Kills what runs in the lab and removes every namespace it made. Safe to call twice. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    const exits = [...this.children].map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      if ((await Promise.race([gone.then(() => true), sleep(KILL_GRACE_MS).then(() => false)])) === false) {
        c.kill('SIGKILL');
        await gone;
      }
    });
    await Promise.all(exits);
    const mine = (await listNamespaces()).filter((ns) => ns.startsWith(`${this.id}-`));
    for (const ns of mine) await removeNamespace(ns);
    for (const d of this.tempDirs.splice(0)) await rm(d, { recursive: true, force: true });
    const left = (await listNamespaces()).filter((ns) => ns.startsWith(`${this.id}-`));
    if (left.length > 0) throw new Error(`natlab: could not remove ${left.join(', ')}`);
  }

  private get(host: string): Node {
    const n = this.nodes.get(host);
    if (!n) throw new Error(`natlab: no host named ${host} (hosts: ${this.hosts.join(', ')})`);
    return n;
  }

  private async addNode(name: string, role: Role, home?: string): Promise<Node> {
    if (!NAME_RE.test(name)) throw new Error(`natlab: host name ${JSON.stringify(name)}: expected [a-z][a-z0-9-], at most 20 characters`);
    if (this.nodes.has(name)) throw new Error(`natlab: two hosts named ${name}`);
    const n: Node = { name, ns: `${this.id}-${name}`, role, ...(home ? { home } : {}) };
    this.nodes.set(name, n);
    await runOk('ip', ['netns', 'add', n.ns]);
    // IPv4 only: no IPv6 (link-local included) that would pass beside the NAT on a shared segment
    const sysctls = [
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
      ...(role === 'router' || role === 'carrier' ? ['net.ipv4.ip_forward=1'] : []),
    ];
    await runOk('ip', ['netns', 'exec', n.ns, 'sysctl', '-qw', ...sysctls]);
    await runOk('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
    return n;
  }

  /** A veth pair made directly inside the two namespaces (no name ever exists in the root namespace). */
  private async link(a: Node, aIf: string, b: Node, bIf: string): Promise<void> {
    await runOk('ip', ['link', 'add', aIf, 'netns', a.ns, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.ns]);
    await runOk('ip', ['-n', a.ns, 'link', 'set', aIf, 'up']);
    await runOk('ip', ['-n', b.ns, 'link', 'set', bIf, 'up']);
  }

  private async addr(n: Node, dev: string, cidr: string): Promise<void> {
    await runOk('ip', ['-n', n.ns, 'addr', 'add', cidr, 'dev', dev]);
  }

  private async bridge(n: Node, name: string): Promise<void> {
    await runOk('ip', ['-n', n.ns, 'link', 'add', name, 'type', 'bridge']);
    await runOk('ip', ['-n', n.ns, 'link', 'set', name, 'up']);
  }

  private async build(spec: NatLabSpec): Promise<void> {
    const homes = spec.homes ?? [];
    const publics = spec.publicHosts ?? [];
    if (homes.length > MAX_HOMES || publics.length > MAX_PUBLIC) throw new Error(`natlab: at most ${MAX_HOMES} homes and ${MAX_PUBLIC} public hosts`);
    const net = spec.internetNet ?? INTERNET_NET;
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(net)) throw new Error(`natlab: internetNet ${net}: expected three octets like 10.200.0`);
    const inet = await this.addNode('internet', 'internet');
    await this.bridge(inet, 'br0');
    let port = 0;
    const attach = async (n: Node, ip: string): Promise<void> => {
      const p = `p${port++}`;
      await this.link(n, 'wan', inet, p);
      await runOk('ip', ['-n', inet.ns, 'link', 'set', p, 'master', 'br0']);
      await this.addr(n, 'wan', `${ip}/24`);
    };
    for (const [i, name] of publics.entries()) {
      const n = await this.addNode(name, 'public');
      n.address = n.publicAddress = `${net}.${10 + i}`;
      await attach(n, n.address);
    }
    let wanIndex = 100;
    for (const [i, home] of homes.entries()) {
      const hosts = home.hosts ?? [home.name];
      if (hosts.length === 0 || hosts.length > MAX_HOSTS_PER_HOME) throw new Error(`natlab: home ${home.name} needs 1 to ${MAX_HOSTS_PER_HOME} hosts`);
      const router = await this.addNode(`${home.name}-router`, 'router', home.name);
      if (home.nat === 'cgnat') {
        const carrier = await this.addNode(`${home.name}-carrier`, 'carrier', home.name);
        carrier.address = carrier.publicAddress = `${net}.${wanIndex++}`;
        await attach(carrier, carrier.address);
        await this.link(router, 'wan', carrier, 'inside');
        await this.addr(carrier, 'inside', `${CARRIER_NET}.1/24`);
        router.address = `${CARRIER_NET}.2`;
        router.publicAddress = carrier.address;
        await this.addr(router, 'wan', `${router.address}/24`);
        await runOk('ip', ['-n', router.ns, 'route', 'add', 'default', 'via', `${CARRIER_NET}.1`]);
        await this.nft(carrier.name, nftRouter({ nat: home.carrier ?? 'easy', forwards: [] }));
      } else {
        router.address = router.publicAddress = `${net}.${wanIndex++}`;
        await attach(router, router.address);
      }
      const lanNet = `192.168.${i + 1}`;
      await this.bridge(router, 'br-lan');
      await this.addr(router, 'br-lan', `${lanNet}.1/24`);
      const forwards: Array<{ proto: string; port: number; to: string; toPort: number }> = [];
      for (const [j, h] of hosts.entries()) {
        const n = await this.addNode(h, 'host', home.name);
        n.address = `${lanNet}.${j + 2}`;
        n.publicAddress = router.publicAddress;
        await this.link(n, 'eth0', router, `lan${j}`);
        await runOk('ip', ['-n', router.ns, 'link', 'set', `lan${j}`, 'master', 'br-lan']);
        await this.addr(n, 'eth0', `${n.address}/24`);
        await runOk('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', `${lanNet}.1`]);
      }
      for (const f of home.portForwards ?? []) {
        const to = f.host ?? hosts[0]!;
        const target = this.get(to);
        if (target.home !== home.name || target.role !== 'host') throw new Error(`natlab: port forward of home ${home.name} to ${to}, not one of its hosts`);
        forwards.push({ proto: f.proto, port: f.port, to: target.address!, toPort: f.hostPort ?? f.port });
      }
      await this.nft(router.name, nftRouter({ nat: home.nat === 'hard' ? 'hard' : 'easy', forwards }));
      if (home.portMapping) await this.startMiniupnpd(router, `${lanNet}.0/24`, home.portMapping);
    }
  }

  /**
   * miniupnpd on a home router: UPnP IGD and NAT-PMP on br-lan, mappings as DNAT rules in its own
   * nftables table, only for LAN hosts and ports 1024 upward, each host for itself (secure mode).
   * Waits until it listens.
   */
  private async startMiniupnpd(router: Node, lanCidr: string, protocols: true | 'upnp' | 'nat-pmp'): Promise<void> {
    const why = await miniupnpdUnavailable();
    if (why) throw new Error(`natlab: ${why}`);
    // the chains miniupnpd fills (its nft_init.sh, with our table name): hooked before our own
    await this.nft(router.name, MINIUPNPD_TABLE);
    const conf = [
      'ext_ifname=wan',
      'listening_ip=br-lan',
      'port=0',
      `enable_upnp=${protocols === 'nat-pmp' ? 'no' : 'yes'}`,
      `enable_natpmp=${protocols === 'upnp' ? 'no' : 'yes'}`,
      'secure_mode=yes',
      'system_uptime=no',
      'upnp_table_name=cairnlab_upnp',
      'upnp_nat_table_name=cairnlab_upnp',
      'upnp_forward_chain=miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd',
      'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      `uuid=${randomUUID()}`,
      `allow 1024-65535 ${lanCidr} 1024-65535`,
      'deny 0-65535 0.0.0.0/0 0-65535',
    ].join('\n');
    const dir = await mkdtemp(join(tmpdir(), `${router.ns}-upnp-`));
    this.tempDirs.push(dir);
    await writeFile(join(dir, 'miniupnpd.conf'), conf + '\n');
    const child = this.spawn(router.name, 'miniupnpd', ['-d', '-f', join(dir, 'miniupnpd.conf'), '-P', join(dir, 'miniupnpd.pid')]);
    let out = '';
    const ready = new Promise<boolean>((resolve) => {
      const on = (b: Buffer) => {
        out += b.toString();
        if (out.includes(protocols === 'upnp' ? 'HTTP listening' : 'Listening for NAT-PMP')) resolve(true);
      };
      child.stdout?.on('data', on);
      child.stderr?.on('data', on);
      child.once('exit', () => resolve(false));
    });
    const up = await Promise.race([ready, sleep(MINIUPNPD_START_MS).then(() => false)]);
    if (!up) throw new Error(`natlab: miniupnpd on ${router.name} did not start within ${MINIUPNPD_START_MS} ms: ${out.trim()}`);
  }
}

/** Makes a home's router drop the UDP its LAN hosts send out (no WebRTC from there: the friends stay on a relay). */
export async function dropUdp(lab: NatLab, home: string): Promise<void> {
  await lab.nft(
    lab.routerOf(home),
    `table inet cairnlab_noudp {
  chain forward {
    type filter hook forward priority 0; policy accept;
    oifname "wan" meta l4proto udp drop
  }
}
`,
  );
}
