// Friends on links of their own, for the mesh benchmark: each friend's agent runs in a Linux
// network namespace joined to the host by a veth pair, and its uplink (the namespace side's
// egress) can be limited with a tc token bucket, as a friend's home connection would be. On one
// loopback every friend shares the restoring agent's two cores and no link is ever the limit, so
// fetching from several friends at once cannot show what it is for. Needs root and iproute2.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { run, runOk } from './exec.js';

export interface FriendLink {
  name: string;
  /** The namespace: run the friend's processes with `ip netns exec <ns> ...`. */
  ns: string;
  /** The friend's address inside its namespace (the agent listens here). */
  friendAddr: string;
  /** The host side of the veth pair (the restoring agent reaches the friend through it). */
  hostAddr: string;
  nsDevice: string;
}

const NS_PREFIX = 'cairn-bench-';

/** Why links cannot be made here, or null when they can. */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces and tc need it)';
  const ip = await run('ip', ['-V']).catch(() => null);
  if (ip === null || ip.code !== 0) return 'the `ip` command (iproute2) is not installed';
  const tc = await run('tc', ['-V']).catch(() => null);
  if (tc === null || tc.code !== 0) return 'the `tc` command (iproute2) is not installed';
  return null;
}

/** Creates one namespace + veth pair per friend (10.231.N.0/24; the friend is .2, the host .1). */
export async function createFriendLinks(names: string[]): Promise<FriendLink[]> {
  await removeFriendLinks(names);
  const links: FriendLink[] = [];
  for (const [i, name] of names.entries()) {
    const ns = `${NS_PREFIX}${name}`;
    const hostDev = `cb${i}h`;
    const nsDev = `cb${i}n`;
    const net = `10.231.${i + 1}`;
    await runOk('ip', ['netns', 'add', ns]);
    await runOk('ip', ['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', nsDev]);
    await runOk('ip', ['link', 'set', nsDev, 'netns', ns]);
    await runOk('ip', ['addr', 'add', `${net}.1/24`, 'dev', hostDev]);
    await runOk('ip', ['link', 'set', hostDev, 'up']);
    await runOk('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${net}.2/24`, 'dev', nsDev]);
    await runOk('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', nsDev, 'up']);
    await runOk('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    links.push({ name, ns, friendAddr: `${net}.2`, hostAddr: `${net}.1`, nsDevice: nsDev });
  }
  return links;
}

/**
 * Limits (rate like "250mbit") or unlimits (null) what each friend sends: a token bucket on the
 * namespace side of its veth, i.e. the friend's uplink.
 */
export async function setUplinkRate(links: FriendLink[], rate: string | null): Promise<void> {
  for (const l of links) {
    if (rate === null) {
      await run('ip', ['netns', 'exec', l.ns, 'tc', 'qdisc', 'del', 'dev', l.nsDevice, 'root']);
    } else {
      await runOk('ip', ['netns', 'exec', l.ns, 'tc', 'qdisc', 'replace', 'dev', l.nsDevice, 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '50ms']);
    }
  }
}

/** Removes the namespaces (their veth pairs go with them); missing ones are fine. */
export async function removeFriendLinks(names: string[]): Promise<void> {
  for (const name of names) await run('ip', ['netns', 'del', `${NS_PREFIX}${name}`]);
}

/** Hosts on one bridge, each in a namespace of its own (the NAT benchmark, bench/nat.ts): no route beyond the bridge. */
export interface BridgeLab {
  /** Namespaces: the bridge's, then one per host. */
  namespaces: string[];
  addressOf(host: string): string;
  /** Starts a process in the host's namespace. */
  spawn(host: string, cmd: string, args: string[], opts: SpawnOptions): ChildProcess;
}

/** A bridge in a namespace of its own (10.232.0.0/24) and one namespace per host on it (.10 upward). */
export async function createBridgeLab(hosts: string[]): Promise<BridgeLab> {
  const bridgeNs = `${NS_PREFIX}nat-br`;
  const nsOf = (h: string) => `${NS_PREFIX}nat-${h}`;
  await removeBridgeLab({ namespaces: [bridgeNs, ...hosts.map(nsOf)] });
  const addrs = new Map<string, string>();
  await runOk('ip', ['netns', 'add', bridgeNs]);
  await runOk('ip', ['netns', 'exec', bridgeNs, 'ip', 'link', 'add', 'br0', 'type', 'bridge']);
  await runOk('ip', ['netns', 'exec', bridgeNs, 'ip', 'link', 'set', 'br0', 'up']);
  for (const [i, h] of hosts.entries()) {
    const ns = nsOf(h);
    const addr = `10.232.0.${10 + i}`;
    await runOk('ip', ['netns', 'add', ns]);
    await runOk('ip', ['netns', 'exec', bridgeNs, 'ip', 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await runOk('ip', ['netns', 'exec', bridgeNs, 'ip', 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
    await runOk('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
    await runOk('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'eth0', 'up']);
    await runOk('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    addrs.set(h, addr);
  }
  return {
    namespaces: [bridgeNs, ...hosts.map(nsOf)],
    addressOf: (h) => {
      const a = addrs.get(h);
      if (a === undefined) throw new Error(`no host ${h} in the bridge lab`);
      return a;
    },
    spawn: (h, cmd, args, opts) => spawn('ip', ['netns', 'exec', nsOf(h), cmd, ...args], opts),
  };
}

/** Removes a bridge lab's namespaces (what runs in them must be stopped first); missing ones are fine. */
export async function removeBridgeLab(lab: Pick<BridgeLab, 'namespaces'>): Promise<void> {
  for (const ns of lab.namespaces) await run('ip', ['netns', 'del', ns]);
}
