// What mesh services outside libp2p need from inside the node: its address manager (LAN discovery
// announces our LAN addresses from it; port mapping adds the address the router maps to us, which
// identify then tells friends) and its logger. libp2p hands these "components" only to services it
// builds, so one service of the node (node.ts) keeps them for the mesh.
import type { ComponentLogger, Libp2p } from '@libp2p/interface';
import type { MulticastDNSComponents } from '@libp2p/mdns';

export type AddressManager = MulticastDNSComponents['addressManager'];

export class NodeParts {
  constructor(
    readonly addressManager: AddressManager,
    readonly logger: ComponentLogger,
  ) {}
}

/** The node's service (services.parts) that keeps its address manager and logger. */
export function nodeParts(): (components: { addressManager: AddressManager; logger: ComponentLogger }) => NodeParts {
  return (c) => new NodeParts(c.addressManager, c.logger);
}

export function partsOf(node: Libp2p): NodeParts {
  const parts = (node.services as Record<string, unknown>).parts;
  if (!(parts instanceof NodeParts)) throw new Error('the mesh node was built without its parts service (node.ts)');
  return parts;
}
