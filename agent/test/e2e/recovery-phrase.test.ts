// The recovery phrase stays out of logs: `cairn init` and the first start of `cairn agent --init`
// print it only when stdout is a terminal (under `script`, a pty), and say where to see it when
// not; `cairn key show-phrase` shows it on a terminal and refuses a pipe; `cairn recover` reads it
// without echo, or from a --phrase-file only its owner can read.
import { spawn } from 'node:child_process';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { repoIdFromRoot } from '../../src/crypto/kdf.js';
import { phraseToRoot } from '../../src/crypto/phrase.js';
import { phraseMayShow } from '../../src/cli/recovery-phrase.js';
import { startAgent } from '../helpers/agents.js';
import { cairn, CAIRN_BIN, ROOT, TEST_PASSPHRASE, tempDir } from '../helpers/cli.js';

const PHRASE_RE = /\b[a-z]+(?: [a-z]+){23}\b/;
const dirs: string[] = [];

async function freshHome(): Promise<string> {
  const d = await tempDir('cairn-phrase-');
  dirs.push(d);
  return join(d, 'home');
}

/**
 * `cairn ARGS` on a pseudo-terminal (util-linux script): its transcript, with CR LF made LF. When
 * `answer` is given, it is typed (then Enter) once `waitFor` appears in the output.
 */
function onTerminal(
  args: string[],
  home: string,
  opts: { waitFor?: string; answer?: string; answers?: Array<[string, string]>; env?: Record<string, string> } = {},
): Promise<{ code: number | null; out: string }> {
  const cmd = [process.execPath, CAIRN_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const env: Record<string, string | undefined> = { ...process.env, CAIRN_HOME: home, CAIRN_PASSPHRASE: TEST_PASSPHRASE, ...opts.env };
  if (env.CAIRN_PASSPHRASE === '') delete env.CAIRN_PASSPHRASE;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  // each answer is typed once its prompt appears after the previous answer
  const answers = [
    ...(opts.answers ?? []),
    ...(opts.waitFor !== undefined && opts.answer !== undefined ? [[opts.waitFor, opts.answer] as [string, string]] : []),
  ];
  let from = 0;
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString('utf8');
    const next = answers[0];
    if (next && out.indexOf(next[0], from) >= 0) {
      from = out.indexOf(next[0], from) + next[0].length;
      answers.shift();
      child.stdin.write(`${next[1]}\r`);
    }
  });
  child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, out: out.replace(/\r\n/g, '\n') });
    });
  });
}

/** The phrase `cairn key show-phrase` prints on a terminal. */
async function showPhrase(home: string): Promise<string> {
  const r = await onTerminal(['key', 'show-phrase'], home);
  expect(r.code, r.out).toBe(0);
  const phrase = PHRASE_RE.exec(r.out)?.[0];
  expect(phrase, r.out).toBeDefined();
  return phrase as string;
}

/** No run of the phrase's words, nor any 24-word run, in `text`. */
function expectNoPhrase(text: string, phrase: string): void {
  expect(text).not.toContain(phrase);
  expect(text).not.toMatch(PHRASE_RE);
  // nor the phrase split over lines or with other spacing
  expect(text.replace(/\s+/g, ' ')).not.toContain(phrase.split(' ').slice(0, 4).join(' '));
}

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the recovery phrase is shown on a terminal only', () => {
  test("cairn init with pipes: no phrase in stdout or stderr, and where to see it; key show-phrase on a terminal gives the repository's phrase", async () => {
    const home = await freshHome();
    const r = await cairn(['init'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/not printed: stdout is not a terminal of yours/);
    expect(r.stdout).toMatch(/cairn key show-phrase/);
    const phrase = await showPhrase(home);
    expectNoPhrase(r.stdout + r.stderr, phrase);
    const repoId = /Created repository (\S+)/.exec(r.stdout)?.[1];
    expect(repoIdFromRoot(phraseToRoot(phrase))).toBe(repoId);
  });

  test('cairn init on a terminal prints the phrase', async () => {
    const home = await freshHome();
    const r = await onTerminal(['init'], home);
    expect(r.code, r.out).toBe(0);
    const phrase = PHRASE_RE.exec(r.out)?.[0];
    expect(phrase, r.out).toBeDefined();
    expect(await showPhrase(home)).toBe(phrase);
  });

  test('cairn agent --init, first start with pipes (as under docker compose): the phrase is in no output', async () => {
    const home = await freshHome();
    const agent = await startAgent('first', { home, existing: { recoveryPhrase: '' }, extraArgs: ['--init'] });
    await agent.stop();
    const log = agent.log();
    expect(log).toMatch(/recovery phrase is not printed here/);
    expect(log).toMatch(/cairn key show-phrase/);
    expectNoPhrase(log, await showPhrase(home));
  });

  test('the passphrase prompts do not echo either', async () => {
    const home = await freshHome();
    const secret = 'a passphrase nobody may see';
    const r = await onTerminal(['init'], home, {
      env: { CAIRN_PASSPHRASE: '' },
      answers: [
        ['Passphrase: ', secret],
        ['Passphrase again: ', secret],
      ],
    });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Passphrase again: /);
    expect(r.out).not.toContain(secret);
    expect(r.out).not.toContain('nobody');
  });

  test('cairn key show-phrase refuses a pipe, and --json, with one line', async () => {
    const home = await freshHome();
    expect((await cairn(['init'], { home })).code).toBe(0);
    for (const args of [
      ['key', 'show-phrase'],
      ['key', 'show-phrase', '--json'],
    ]) {
      const r = await cairn(args, { home });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/shown only on a terminal/);
    }
    // a wrong passphrase on a terminal: refused, nothing shown
    const wrong = await onTerminal(['key', 'show-phrase'], home, { env: { CAIRN_PASSPHRASE: 'wrong' } });
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).not.toMatch(PHRASE_RE);
  });
});

describe('phraseMayShow', () => {
  test("a terminal, unless this is a container's main process or a child of init (their output is a log even on a pty)", () => {
    expect(phraseMayShow({ isTTY: true }, { pid: 4242, ppid: 4000 })).toBe(true);
    // docker exec: the parent is outside the container's PID namespace
    expect(phraseMayShow({ isTTY: true }, { pid: 57, ppid: 0 })).toBe(true);
    expect(phraseMayShow({ isTTY: false }, { pid: 4242, ppid: 4000 })).toBe(false);
    expect(phraseMayShow({}, { pid: 4242, ppid: 4000 })).toBe(false);
    // docker run -it IMAGE agent --init (PID 1), with --init (child of docker-init), a systemd service
    expect(phraseMayShow({ isTTY: true }, { pid: 1, ppid: 0 })).toBe(false);
    expect(phraseMayShow({ isTTY: true }, { pid: 7, ppid: 1 })).toBe(false);
  });
});

describe('cairn recover reads the phrase without echo, or from an owner-only file', () => {
  test('the prompt does not echo the typed words', async () => {
    const source = await freshHome();
    expect((await cairn(['init'], { home: source })).code).toBe(0);
    const phrase = await showPhrase(source);
    const home = await freshHome();
    // the invite is bad, so recover fails after reading the phrase and the passphrase
    const r = await onTerminal(['recover', '--invite', 'cairn1.bad'], home, { waitFor: 'Recovery phrase (24 words', answer: phrase });
    expect(r.out).toMatch(/Recovery phrase \(24 words/);
    expect(r.out).toMatch(/invite/i);
    expect(r.out).not.toContain(phrase.split(' ')[0] as string);
    expectNoPhrase(r.out, phrase);
  });

  test('--phrase-file must be readable by its owner only; a good one is used', async () => {
    const source = await freshHome();
    expect((await cairn(['init'], { home: source })).code).toBe(0);
    const phrase = await showPhrase(source);
    const file = join(dirname(source), 'phrase.txt');
    await writeFile(file, `${phrase}\n`);
    await chmod(file, 0o644);
    const home = await freshHome();
    const open = await cairn(['recover', '--invite', 'cairn1.bad', '--phrase-file', file], { home });
    expect(open.code).toBe(2);
    expect(open.stderr.trim()).toBe(`cairn: phrase file ${file} is readable by others (mode 644): chmod 600 ${file}`);
    await chmod(file, 0o600);
    const ok = await cairn(['recover', '--invite', 'cairn1.bad', '--phrase-file', file], { home });
    // past the phrase: it fails on the invite, and never prints the phrase
    expect(ok.stderr).not.toMatch(/phrase/);
    expect(ok.stderr).toMatch(/invite/i);
    expectNoPhrase(ok.stdout + ok.stderr, phrase);
  });
});
