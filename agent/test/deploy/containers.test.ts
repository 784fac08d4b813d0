// End to end in containers, with no registry: the agent image (helpers/agent-image.ts) runs as three
// agents on the test engine, each with its own state volume (host network: the CI engine has no
// bridge); they pair, the first backs up a volume another container wrote, replicates, is removed
// with its state, is recovered in a fresh container from a friend's invite and the recovery phrase,
// and restores the volume, which comes back identical (bytes, modes, mtimes).
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ensureAgentImage } from '../helpers/agent-image.js';
import { describeDocker, docker, TEST_IMAGE } from '../helpers/docker-env.js';
import { freePort } from '../helpers/mesh-hosted.js';

const PASS = 'container test passphrase';
const RUN_ID = `c${process.pid}`;

describeDocker('agents in containers', () => {
  let image = '';
  let socket = '';
  let volumesDir = '';
  const containers: string[] = [];
  const volumes: string[] = [];
  const vol = async (name: string) => {
    const v = `${RUN_ID}-${name}`;
    await docker(['volume', 'create', v]);
    volumes.push(v);
    return v;
  };
  const cairnIn = async (container: string, args: string[], env: string[] = []) => (await docker(['exec', ...env.flatMap((e) => ['-e', e]), container, '/usr/local/bin/node', '/app/bin/cairn.js', ...args], { timeoutMs: 180_000 })).trim();
  const mounts = (state: string) => ['-v', `${state}:/var/lib/cairn`, '-v', `${socket}:/var/run/docker.sock`, '-v', `${volumesDir}:${volumesDir}`];

  async function initState(name: string): Promise<{ state: string; phrase: string }> {
    const state = await vol(`${name}-state`);
    const out = await docker(['run', '--rm', '-e', `CAIRN_PASSPHRASE=${PASS}`, '-v', `${state}:/var/lib/cairn`, image, 'init', '--json'], { timeoutMs: 120_000 });
    return { state, phrase: (JSON.parse(out) as { recoveryPhrase: string }).recoveryPhrase };
  }

  async function startAgentContainer(name: string, state: string): Promise<{ id: string; p2p: number; api: number }> {
    const p2p = await freePort();
    const api = await freePort();
    const id = (
      await docker(['run', '-d', '--name', `${RUN_ID}-${name}`, '--network', 'host', '-e', `CAIRN_PASSPHRASE=${PASS}`, ...mounts(state), image, 'agent', '--name', name, '--listen', `/ip4/127.0.0.1/tcp/${p2p}`, '--api', `127.0.0.1:${api}`, '--disk-floor', '0', '--replicate-every', '1h'], { timeoutMs: 60_000 })
    ).trim();
    containers.push(id);
    // ready when the CLI inside reaches the agent
    for (let i = 0; i < 120; i++) {
      if (await cairnIn(id, ['peers', '--json']).then(() => true, () => false)) return { id, p2p, api };
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`agent ${name} did not come up: ${await docker(['logs', id]).catch((e: Error) => e.message)}`);
  }

  const listing = async (volume: string) =>
    docker(['run', '--rm', '-v', `${volume}:/v:ro`, TEST_IMAGE, 'sh', '-c', 'cd /v && find . | sort | while read f; do stat -c "%n %F %a %s %Y %u:%g" "$f"; [ -f "$f" ] && md5sum "$f"; done'], { timeoutMs: 120_000 });

  beforeAll(async () => {
    image = await ensureAgentImage();
    const host = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
    socket = host.replace(/^unix:\/\//, '');
    volumesDir = `${(await docker(['info', '--format', '{{.DockerRootDir}}'])).trim()}/volumes`;
  }, 600_000);

  afterAll(async () => {
    for (const c of containers) await docker(['rm', '-f', c]).catch(() => undefined);
    for (const v of volumes) await docker(['volume', 'rm', '-f', v]).catch(() => undefined);
  });

  test('pair, back up a volume, replicate, lose the host, recover it in a fresh container, restore the volume identical', async () => {
    const alice = await initState('alice');
    const bob = await initState('bob');
    const carol = await initState('carol');
    const a = await startAgentContainer('alice', alice.state);
    const b = await startAgentContainer('bob', bob.state);
    const c = await startAgentContainer('carol', carol.state);
    for (const friend of [b, c]) {
      const { code } = JSON.parse(await cairnIn(friend.id, ['invite', '--quota', '1G', '--json'])) as { code: string };
      await cairnIn(a.id, ['pair', code, '--quota', '1G', '--json']);
    }

    // a volume written by another container
    const data = await vol('appdata');
    await docker(['run', '--rm', '-v', `${data}:/data`, TEST_IMAGE, 'sh', '-c', 'mkdir -p /data/db/sub && echo hello > /data/db/a.txt && dd if=/dev/urandom of=/data/db/sub/blob bs=1024 count=3000 2>/dev/null && chmod 640 /data/db/a.txt && touch -d "2020-01-02 03:04:05" /data/db/a.txt && ln -s a.txt /data/db/link'], { timeoutMs: 60_000 });
    const before = await listing(data);
    const snap = JSON.parse(await cairnIn(a.id, ['backup', `volume:${data}`, '--json'])) as { id: string };
    expect(snap.id).toMatch(/^[0-9a-f]{64}$/);
    const rep = JSON.parse(await cairnIn(a.id, ['replicate', '--wait', '--json'])) as { underReplicated: number; problems: string[] };
    expect(rep.underReplicated, rep.problems.join('; ')).toBe(0);

    // the host is lost: container and state gone
    await docker(['rm', '-f', a.id]);
    await docker(['volume', 'rm', '-f', alice.state]);
    const { code } = JSON.parse(await cairnIn(b.id, ['invite', '--json'])) as { code: string };

    // a fresh container recovers from bob's invite with the recovery phrase
    const fresh = await vol('alice-new-state');
    await docker(['run', '--rm', '--network', 'host', '-e', `CAIRN_PASSPHRASE=${PASS}`, '-e', `CAIRN_RECOVERY_PHRASE=${alice.phrase}`, '-v', `${fresh}:/var/lib/cairn`, image, 'recover', '--invite', code, '--json'], { timeoutMs: 300_000 });
    const a2 = await startAgentContainer('alice2', fresh);
    const snaps = JSON.parse(await cairnIn(a2.id, ['snapshots', '--json'])) as Array<{ id: string }>;
    expect(snaps.map((s) => s.id)).toContain(snap.id);

    // restore into a new volume, identical to the original
    const restored = `${RUN_ID}-restored`;
    volumes.push(restored);
    await cairnIn(a2.id, ['restore', snap.id, '--to-volume', restored, '--json']);
    expect(await listing(restored)).toBe(before);
  }, 900_000);
});
