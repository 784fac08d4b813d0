// A small NAT-PMP client (RFC 6886): the router's external address, and a TCP port mapping, asked of
// the default gateway over UDP. Each exchange is bounded: a request is sent again after 250 ms,
// then after twice as long, NAT_PMP_TRIES times in all (RFC 6886 3.1 allows up to 9: 64 s), and
// only an answer from the gateway's port 5351 with the matching opcode counts.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export const NAT_PMP_PORT = 5351;
const FIRST_WAIT_MS = 250;
/** Tries of one request: 250 + 500 + 1000 + 2000 ms, then the router is taken not to speak NAT-PMP. */
export const NAT_PMP_TRIES = 4;
const OP_EXTERNAL_ADDRESS = 0;
const OP_MAP_TCP = 2;
const RESPONSE = 128;

const RESULTS: Record<number, string> = {
  1: 'unsupported version',
  2: 'not authorized or refused (NAT-PMP turned off on the router?)',
  3: 'network failure: the router has no external address',
  4: 'out of resources: no ports left',
  5: 'unsupported opcode',
};

/** The router answered, with a result code other than success. */
export class NatPmpError extends Error {
  readonly result: number;
  constructor(result: number) {
    super(`NAT-PMP: ${RESULTS[result] ?? `result code ${result}`}`);
    this.name = 'NatPmpError';
    this.result = result;
  }
}
export const NAT_PMP_NETWORK_FAILURE = 3;

/** The router never answered (it does not speak NAT-PMP, or nothing listens on the gateway). */
export class NatPmpNoAnswerError extends Error {
  constructor(gateway: string) {
    super(`NAT-PMP: no answer from ${gateway}:${NAT_PMP_PORT}`);
    this.name = 'NatPmpNoAnswerError';
  }
}

/** The IPv4 default route: its gateway and the address of the interface it leaves by (Linux, /proc/net/route). */
export function defaultRoute(routeTable = '/proc/net/route'): { gateway: string; localAddress: string } | null {
  let text: string;
  try {
    text = readFileSync(routeTable, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n').slice(1)) {
    const [iface, dest, gw, flags] = line.trim().split(/\s+/);
    // RTF_UP | RTF_GATEWAY, destination 0.0.0.0
    if (!iface || dest !== '00000000' || !gw || (parseInt(flags ?? '0', 16) & 0x3) !== 0x3) continue;
    const n = parseInt(gw, 16);
    const gateway = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
    const local = networkInterfaces()[iface]?.find((a) => a.family === 'IPv4' && !a.internal);
    if (local) return { gateway, localAddress: local.address };
  }
  return null;
}

/** One request to the gateway, sent again on silence; resolves to the first well-formed answer. */
function exchange(gateway: string, request: Buffer, op: number, minLength: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    let timer: NodeJS.Timeout | undefined;
    let tries = 0;
    const finish = (err: Error | null, reply?: Buffer) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('message');
      socket.on('error', () => undefined);
      socket.close();
      if (err) reject(err);
      else resolve(reply as Buffer);
    };
    const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    const send = () => {
      if (tries === NAT_PMP_TRIES) {
        finish(new NatPmpNoAnswerError(gateway));
        return;
      }
      socket.send(request, NAT_PMP_PORT, gateway);
      timer = setTimeout(send, FIRST_WAIT_MS * 2 ** tries++);
    };
    socket.on('error', (err) => finish(err));
    socket.on('message', (msg, from) => {
      if (from.address !== gateway || from.port !== NAT_PMP_PORT || msg.length < 4 || msg[0] !== 0 || msg[1] !== RESPONSE + op) return;
      const result = msg.readUInt16BE(2);
      if (result !== 0) finish(new NatPmpError(result));
      else if (msg.length >= minLength) finish(null, msg);
    });
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort);
    socket.bind(0, send);
  });
}

/** The router's external IPv4 address. Throws NatPmpError (3: it has none) or NatPmpNoAnswerError. */
export async function pmpExternalAddress(gateway: string, signal: AbortSignal): Promise<string> {
  const reply = await exchange(gateway, Buffer.from([0, OP_EXTERNAL_ADDRESS]), OP_EXTERNAL_ADDRESS, 12, signal);
  return [reply[8], reply[9], reply[10], reply[11]].join('.');
}

/**
 * Maps TCP `internalPort` of this host (the router takes the address the request came from),
 * asking for the same external port, for `lifetimeS` seconds (0 removes the mapping).
 */
export async function pmpMapTcp(
  gateway: string,
  internalPort: number,
  lifetimeS: number,
  signal: AbortSignal,
): Promise<{ externalPort: number; lifetimeS: number }> {
  const req = Buffer.alloc(12);
  req[1] = OP_MAP_TCP;
  req.writeUInt16BE(internalPort, 4);
  req.writeUInt16BE(lifetimeS === 0 ? 0 : internalPort, 6);
  req.writeUInt32BE(lifetimeS, 8);
  const reply = await exchange(gateway, req, OP_MAP_TCP, 16, signal);
  return { externalPort: reply.readUInt16BE(10), lifetimeS: reply.readUInt32BE(12) };
}
