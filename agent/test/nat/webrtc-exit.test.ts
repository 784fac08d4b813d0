// A process whose mesh node tried a WebRTC dial that was cut off mid-handshake still exits once
// its nodes stop (webrtc.ts trackWebRTCNode: node-datachannel's cleanup() when the last WebRTC node
// stops). Without it the aborted dial leaves libdatachannel state that keeps Node's event loop
// alive, and `cairn agent` never exits after SIGTERM. Two mesh nodes (from dist/) in one process in
// a lab namespace (ICE gathers on every interface; the namespace keeps it inside the lab); the
// generous 30 s limit is a deadline for hanging, not a speed claim. Relies on @libp2p/webrtc 6.0
// reusing an existing connection for signalling and node-datachannel 0.33's cleanup().
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { describeNatLab, NatLab } from '../helpers/natlab.js';

const SCRIPT = `
const dist = process.cwd() + '/dist/agent/src/mesh/';
const { createMeshNode, peerKeyFromSeed } = await import(dist + 'node.js');
const { randomBytes } = await import('node:crypto');
const [host, abortMs] = process.argv.slice(1);
const mk = async () => createMeshNode({ privateKey: await peerKeyFromSeed(randomBytes(32)), listen: ['/ip4/' + host + '/tcp/0'], admit: () => true, relay: { isFriend: () => true, inviteOpen: () => false } });
const a = await mk();
const b = await mk();
const addr = b.getMultiaddrs()[0];
await a.dial(addr);
for (const ms of abortMs.split(',').map(Number)) {
  try { const c = await a.dial(addr.encapsulate('/p2p-circuit/webrtc/p2p/' + b.peerId), { force: true, signal: AbortSignal.timeout(ms) }); console.log('connected'); await c.close(); }
  catch (e) { console.log('aborted: ' + e.message); }
}
await a.stop();
await b.stop();
console.log('stopped');
`;

describeNatLab('a process whose WebRTC dial was cut off exits once its nodes stop', () => {
  let lab: NatLab;
  beforeAll(async () => {
    lab = await NatLab.create({ publicHosts: ['x'] });
  }, 120_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  test('dials aborted 100, 200 and 400 ms into the handshake: the process still exits', async () => {
    const r = await lab
      .exec('x', process.execPath, ['--input-type=module', '-e', SCRIPT, lab.addressOf('x'), '100,200,400'], { cwd: ROOT, timeoutMs: 30_000 })
      .catch((err: Error) => ({
        code: null,
        stdout: '',
        stderr: err.message,
      }));
    expect(r.stderr).not.toMatch(/killed after/);
    expect(r.stdout).toContain('aborted: ');
    expect(r.stdout).toContain('stopped');
    expect(r.code).toBe(0);
  }, 60_000);
});
