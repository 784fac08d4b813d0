// Mesh nodes (bench/nat-node.ts) in NatLab hosts' namespaces, and a byte counter at a relay.
import { MeshNodeProcess } from '../../../bench/nat-node.js';
import { ROOT } from './cli.js';
import type { NatLab } from './natlab.js';

export { SINK_PROTOCOL, type ConnectResult } from '../../../bench/nat-node.js';
export type LabMeshNode = MeshNodeProcess;

export const LabMeshNode = {
  peerIdOf: (seed: Buffer) => MeshNodeProcess.peerIdOf(seed),
  start: (lab: NatLab, host: string, opts: Parameters<typeof MeshNodeProcess.start>[3]) =>
    MeshNodeProcess.start((cmd, args, o) => lab.spawn(host, cmd, args, o), ROOT, host, opts),
};

/** Counts the TCP bytes that arrive at `port` in `host`'s namespace (what reaches a relay there). */
export class RelayByteCounter {
  private constructor(
    private readonly lab: NatLab,
    private readonly host: string,
  ) {}

  static async install(lab: NatLab, host: string, port: number): Promise<RelayByteCounter> {
    await lab.nft(
      host,
      `table inet cairnwebrtc_count {
  counter relayin { }
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport ${port} counter name "relayin"
  }
}
`,
    );
    return new RelayByteCounter(lab, host);
  }

  async bytes(): Promise<number> {
    const out = await this.lab.execOk(this.host, 'nft', ['-j', 'list', 'counter', 'inet', 'cairnwebrtc_count', 'relayin']);
    const j = JSON.parse(out) as { nftables: Array<{ counter?: { bytes: number } }> };
    return j.nftables.find((e) => e.counter)?.counter?.bytes ?? 0;
  }
}
