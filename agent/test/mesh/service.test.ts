// The mesh's services (mesh/service.ts): a protocol service serves its protocol on a real libp2p
// node from start to stop; a group starts its services in order, stops them in reverse, and a
// start that fails part-way leaves none of them running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Libp2p } from '@libp2p/interface';
import { ProtocolService, ServiceGroup, type Startable } from '../../src/mesh/service.js';
import { startWireNode } from '../helpers/mesh-wire.js';

let node: Libp2p;

beforeAll(async () => {
  node = (await startWireNode()).node;
}, 30_000);

afterAll(async () => {
  await node?.stop();
});

/** A service that records its starts and stops in `log`, and fails where told. */
function recording(name: string, log: string[], fail: { start?: boolean; stop?: boolean } = {}): Startable {
  return {
    async start() {
      log.push(`start ${name}`);
      if (fail.start) throw new Error(`${name} cannot start`);
    },
    async stop() {
      log.push(`stop ${name}`);
      if (fail.stop) throw new Error(`${name} cannot stop`);
    },
  };
}

describe('ProtocolService', () => {
  it('registers its handler on start and removes it on stop', async () => {
    const svc = new ProtocolService(node, '/cairn/test-service/1.0.0', () => undefined);
    expect(node.getProtocols()).not.toContain('/cairn/test-service/1.0.0');
    await svc.start();
    expect(node.getProtocols()).toContain('/cairn/test-service/1.0.0');
    await svc.stop();
    expect(node.getProtocols()).not.toContain('/cairn/test-service/1.0.0');
  });
});

describe('ServiceGroup', () => {
  it('starts in order and stops in reverse', async () => {
    const log: string[] = [];
    const group = new ServiceGroup(['a', 'b', 'c'].map((n) => recording(n, log)));
    await group.start();
    await group.stop();
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('a start that fails stops the services already started, in reverse, and throws its error', async () => {
    const log: string[] = [];
    const group = new ServiceGroup([recording('a', log), recording('b', log), recording('c', log, { start: true }), recording('d', log)]);
    await expect(group.start()).rejects.toThrow('c cannot start');
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop b', 'stop a']);
    await group.stop(); // nothing left running: nothing stopped twice
    expect(log).toHaveLength(5);
  });

  it('a stop that fails does not keep the others running; the first error is thrown after all stopped', async () => {
    const log: string[] = [];
    const group = new ServiceGroup([recording('a', log), recording('b', log, { stop: true }), recording('c', log, { stop: true })]);
    await group.start();
    await expect(group.stop()).rejects.toThrow('c cannot stop');
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });
});
