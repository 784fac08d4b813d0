// Small probe programs for a NatLab: each one a `node -e` script run inside a host's namespace with
// this process's Node. Servers report what source address and port they saw; clients say what
// they got back or which error they met, so a test can assert how each NAT maps and filters.
import type { ChildProcess } from 'node:child_process';
import type { NatLab } from './natlab.js';

/** Longest a probe waits for an answer that a dropping router never sends. */
export const PROBE_WAIT_MS = 1500;
const SERVER_READY_MS = 15_000;

// Echo servers: every TCP connection gets "address:port" of its peer, every UDP datagram the same.
// Arguments: "tcp:PORT" or "udp:PORT", any number of them.
const SERVERS = `
const net = require('node:net'), dgram = require('node:dgram');
const specs = process.argv.slice(1).map((a) => a.split(':'));
let up = 0;
const ready = () => { if (++up === specs.length) console.log('ready'); };
for (const [proto, p] of specs) {
  if (proto === 'tcp') net.createServer((c) => c.end(c.remoteAddress + ':' + c.remotePort)).listen(Number(p), '0.0.0.0', ready);
  else { const s = dgram.createSocket('udp4'); s.on('message', (m, r) => s.send(r.address + ':' + r.port, r.port, r.address)); s.bind(Number(p), '0.0.0.0', ready); }
}`;

// One UDP socket sends to every destination in turn; prints {local, seen: [answer or null]}.
const UDP_CLIENT = `
const dgram = require('node:dgram');
const [waitMs, ...dests] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.bind(0, '0.0.0.0', async () => {
  const seen = [];
  for (const d of dests) {
    const [host, port] = d.split(':');
    seen.push(await new Promise((resolve) => {
      const t = setTimeout(() => { s.off('message', on); resolve(null); }, Number(waitMs));
      function on(m, r) { if (r.address === host && r.port === Number(port)) { clearTimeout(t); s.off('message', on); resolve(m.toString()); } }
      s.on('message', on);
      s.send('probe', Number(port), host, (err) => { if (err) { clearTimeout(t); s.off('message', on); resolve('error:' + err.code); } });
    }));
  }
  console.log(JSON.stringify({ local: s.address().port, seen }));
  s.close();
});`;

// One TCP connection to each "address:port" at once; prints per target {seen} (what the server
// saw) or {error: code}.
const TCP_CLIENT = `
const net = require('node:net');
const [waitMs, ...targets] = process.argv.slice(1);
Promise.all(targets.map((t) => new Promise((resolve) => {
  const i = t.lastIndexOf(':');
  const c = net.connect({ host: t.slice(0, i), port: Number(t.slice(i + 1)) });
  const timer = setTimeout(() => { c.destroy(); resolve({ error: 'TIMEOUT' }); }, Number(waitMs));
  let got = '';
  c.on('data', (b) => (got += b));
  c.on('end', () => { clearTimeout(timer); resolve({ seen: got }); });
  c.on('error', (e) => { clearTimeout(timer); resolve({ error: e.code }); });
}))).then((r) => console.log(JSON.stringify(r)));`;

// Joins a multicast group on every interface's address it is given and prints the first datagram
// with its source ("from address:port text"), or "none" after the wait.
const MCAST_LISTEN = `
const dgram = require('node:dgram');
const [group, port, iface, waitMs] = process.argv.slice(1);
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const t = setTimeout(() => { console.log('none'); s.close(); }, Number(waitMs));
s.on('message', (m, r) => { clearTimeout(t); console.log(r.address + ':' + r.port + ' ' + m.toString()); s.close(); });
s.bind(Number(port), () => { s.addMembership(group, iface); console.error('joined'); });`;

const MCAST_SEND = `
const dgram = require('node:dgram');
const [group, port, iface, text, count] = process.argv.slice(1);
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
s.bind(0, iface, async () => {
  s.setMulticastInterface(iface);
  for (let i = 0; i < Number(count); i++) { s.send(text, Number(port), group); await new Promise((r) => setTimeout(r, 100)); }
  s.close();
});`;

/**
 * Multicast on a home LAN (what mDNS needs): `to` joins group:port on its LAN address, `from`
 * sends a few datagrams from its LAN address; what `to` received ("address:port text") or "none".
 */
export async function multicastProbe(lab: NatLab, from: string, to: string, group: string, port: number, waitMs = 5_000): Promise<string> {
  const listener = lab.spawn(to, process.execPath, ['-e', MCAST_LISTEN, group, String(port), lab.addressOf(to), String(waitMs)]);
  let out = '';
  listener.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<void>((resolve) => listener.once('exit', () => resolve()));
  await new Promise<void>((resolve) => {
    listener.stderr?.on('data', (b: Buffer) => b.toString().includes('joined') && resolve());
    listener.once('exit', () => resolve());
  });
  await runProbe(lab, from, MCAST_SEND, [group, String(port), lab.addressOf(from), `hello from ${from}`, '10']);
  await done;
  return out.trim();
}

export interface UdpProbe {
  /** The client socket's local port. */
  local: number;
  /** Per destination: "address:port" the server saw, null without an answer, "error:CODE" when sending failed. */
  seen: Array<string | null>;
}

export type TcpProbe = { seen: string; error?: undefined } | { error: string; seen?: undefined };

/** Starts echo servers (0.0.0.0) in the host's namespace, one process; resolves once they listen. */
export async function startEchoServers(lab: NatLab, host: string, ports: { tcp?: number[]; udp?: number[] }): Promise<ChildProcess> {
  const specs = [...(ports.tcp ?? []).map((p) => `tcp:${p}`), ...(ports.udp ?? []).map((p) => `udp:${p}`)];
  const proto = specs.join(',');
  const child = lab.spawn(host, process.execPath, ['-e', SERVERS, ...specs]);
  let out = '';
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`[${host}] ${proto} echo servers not ready within ${SERVER_READY_MS} ms: ${err}`)), SERVER_READY_MS);
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`[${host}] ${proto} echo servers exited ${code}: ${err}`));
    });
  });
  return child;
}

async function runProbe(lab: NatLab, host: string, script: string, args: string[]): Promise<string> {
  const r = await lab.node(host, script, args);
  if (r.code !== 0) throw new Error(`[${host}] probe exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** From one UDP socket on `host`, one datagram to each "address:port"; what each server saw. */
export async function udpProbe(lab: NatLab, host: string, dests: string[], waitMs = PROBE_WAIT_MS): Promise<UdpProbe> {
  return JSON.parse(await runProbe(lab, host, UDP_CLIENT, [String(waitMs), ...dests])) as UdpProbe;
}

/** One TCP connection from `host` to address:port; what the server saw, or the error. */
export async function tcpProbe(lab: NatLab, host: string, address: string, port: number, waitMs = PROBE_WAIT_MS): Promise<TcpProbe> {
  return (await tcpProbeMany(lab, host, [`${address}:${port}`], waitMs))[0]!;
}

/** TCP connections from `host` to every "address:port" at once (one process); per target what the server saw, or the error. */
export async function tcpProbeMany(lab: NatLab, host: string, targets: string[], waitMs = PROBE_WAIT_MS): Promise<TcpProbe[]> {
  return JSON.parse(await runProbe(lab, host, TCP_CLIENT, [String(waitMs), ...targets])) as TcpProbe[];
}

/** "a.b.c.d:port" -> its parts. */
export function splitEndpoint(s: string): { address: string; port: number } {
  const i = s.lastIndexOf(':');
  return { address: s.slice(0, i), port: Number(s.slice(i + 1)) };
}
