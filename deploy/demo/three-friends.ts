// `npm run demo`: three agents (alice, bob, carol) on loopback pair, alice backs up a sample tree
// and replicates it, alice's home is deleted, alice recovers from bob's invite and restores, and
// the restored tree is compared with the original. Every step is printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'cairn.js');
const PASSPHRASE = 'demo passphrase';
const base = await mkdtemp(join(tmpdir(), 'cairn-demo-'));
const procs: ChildProcess[] = [];

function step(msg: string): void {
  process.stdout.write(`\n==> ${msg}\n`);
}

function cairn(home: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: PASSPHRASE, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const out: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.on('close', (code) => (code === 0 ? ok(Buffer.concat(out).toString('utf8')) : fail(new Error(`cairn ${args[0]} exited ${code}`))));
  });
}

async function startAgent(name: string, port: number): Promise<string> {
  const home = join(base, name);
  const p = spawn(
    process.execPath,
    [BIN, 'agent', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--api', `127.0.0.1:${port + 1000}`, '--name', name, '--disk-floor', '0'],
    {
      env: { ...process.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: PASSPHRASE },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  procs.push(p);
  for (let i = 0; i < 300; i++) {
    if (await lstat(join(home, 'agent.json')).catch(() => undefined)) return home;
    if (p.exitCode !== null) throw new Error(`${name}'s agent exited ${p.exitCode}`);
    await sleep(100);
  }
  throw new Error(`${name}'s agent did not start`);
}

async function stopAll(): Promise<void> {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await sleep(500);
}

async function sampleTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'docs', 'nested'), { recursive: true });
  await writeFile(join(dir, 'docs', 'readme.txt'), 'Hello from alice\n'.repeat(1000));
  await writeFile(join(dir, 'docs', 'nested', 'numbers.csv'), Array.from({ length: 50_000 }, (_, i) => `${i},${i * i}`).join('\n'));
  await writeFile(join(dir, 'photo.raw'), createHash('sha512').update('seed').digest().toString('hex').repeat(40_000));
  await writeFile(join(dir, 'empty'), '');
  await symlink('docs/readme.txt', join(dir, 'link'));
}

async function digest(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const p = join(dir, rel, name);
    const st = await lstat(p);
    const id = `${rel}/${name} ${st.mode.toString(8)} ${st.mtimeMs}`;
    if (st.isDirectory()) out.push(id, ...(await digest(dir, `${rel}/${name}`)));
    else if (st.isSymbolicLink()) out.push(`${id} -> ${await readlink(p)}`);
    else
      out.push(
        `${id} ${createHash('sha256')
          .update(await readFile(p))
          .digest('hex')}`,
      );
  }
  return out;
}

try {
  step(`three homes under ${base}: alice, bob, carol`);
  const phrases: Record<string, string> = {};
  for (const n of ['alice', 'bob', 'carol'])
    phrases[n] = (JSON.parse(await cairn(join(base, n), ['init', '--json'])) as { recoveryPhrase: string }).recoveryPhrase;
  step('starting three agents on 127.0.0.1:4701-4703');
  const [alice, bob, carol] = [await startAgent('alice', 4701), await startAgent('bob', 4702), await startAgent('carol', 4703)];
  step('bob and carol each pair with alice (invite codes, 1 GiB granted both ways)');
  for (const friend of [bob, carol]) {
    const { code } = JSON.parse(await cairn(alice, ['invite', '--quota', '1G', '--json'])) as { code: string };
    process.stdout.write(await cairn(friend, ['pair', code, '--quota', '1G']));
  }
  const src = join(base, 'sample');
  await sampleTree(src);
  step(`alice backs up ${src}`);
  process.stdout.write(await cairn(alice, ['backup', src]));
  step('alice replicates: every pack to 2 friends');
  process.stdout.write(await cairn(alice, ['replicate', '--wait']));
  process.stdout.write(await cairn(alice, ['peers']));
  step("alice's host burns down: her agent stops and her home is deleted");
  procs[0]?.kill('SIGTERM');
  await sleep(1000);
  await rm(alice, { recursive: true, force: true });
  step('bob makes an invite; alice recovers on an empty home with her recovery phrase');
  const { code } = JSON.parse(await cairn(bob, ['invite', '--json'])) as { code: string };
  process.stdout.write(await cairn(alice, ['recover', '--invite', code], { CAIRN_RECOVERY_PHRASE: phrases.alice as string }));
  process.stdout.write(await cairn(alice, ['snapshots']));
  step('alice restores the latest snapshot from her friends');
  const target = join(base, 'restored');
  process.stdout.write(await cairn(alice, ['restore', 'latest', '--target', target]));
  step('comparing the restored tree with the original');
  const [a, b] = [await digest(src), await digest(join(target, src))];
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('the restored tree differs from the original');
  process.stdout.write(`identical: ${a.length} entries (content, mode, mtime, symlinks)\n\ndemo passed\n`);
  void carol;
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
