// An attacker that holds TCP connections open without ever speaking (no Noise, no multistream):
// `perIp` sockets from each of `ips` (loopback addresses) to 127.0.0.1:`port`, each reopened as
// soon as the target closes it, until stopped.
import { connect, type Socket } from 'node:net';

export interface IdleSockets {
  /** Resolves once every socket has connected (or failed) once. */
  ready: Promise<void>;
  /** Sockets that connected, over the whole attack. */
  opened(): number;
  /** Sockets the target closed (refused, or timed out before Noise). */
  closedByTarget(): number;
  stop(): void;
}

export function holdIdleSockets(port: number, ips: string[], perIp: number): IdleSockets {
  let stopped = false;
  let opened = 0;
  let closed = 0;
  const sockets = new Set<Socket>();
  const open = (ip: string): Promise<void> =>
    new Promise((resolve) => {
      if (stopped) return resolve();
      const s = connect({ host: '127.0.0.1', port, localAddress: ip });
      sockets.add(s);
      s.on('connect', () => {
        opened += 1;
        resolve();
      });
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        resolve();
        if (stopped) return;
        closed += 1;
        // reopened at once: the attack never lets go of its share
        setTimeout(() => void open(ip), 20);
      });
    });
  const ready = Promise.all(ips.flatMap((ip) => Array.from({ length: perIp }, () => open(ip)))).then(() => undefined);
  return {
    ready,
    opened: () => opened,
    closedByTarget: () => closed,
    stop: () => {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/** `n` distinct loopback addresses from 127.0.1.2 on (127.0.0.1 stays the friends'). */
export function loopbackIps(from: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.${Math.floor((from + i) / 250) + 1}.${((from + i) % 250) + 2}`);
}
