// The Docker engine for tests: the one deploy/ci/start-dockerd.sh starts (DOCKER_HOST, else its
// default socket), driven through the docker CLI so that tests check Cairn against Docker's own
// view. Tests that need it use describeDocker: when the engine or the test image is missing they
// FAIL under CI (process.env.CI set) and are skipped with the reason printed otherwise.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describeRequiring } from './requires.js';

const run = promisify(execFile);

export const TEST_IMAGE = 'cairn-test-busybox:latest';
/** Where deploy/ci/start-dockerd.sh puts the socket by default. */
export const SCRIPT_SOCKET = '/run/cairn-docker/docker.sock';

if (!process.env.DOCKER_HOST && existsSync(SCRIPT_SOCKET)) process.env.DOCKER_HOST = `unix://${SCRIPT_SOCKET}`;

/** `docker ARGS` with the tests' DOCKER_HOST; stdout, or an error carrying stderr. */
export async function docker(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await run('docker', args, { env: process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`docker ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

async function whyNotReady(): Promise<string | undefined> {
  const where = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  try {
    await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
  } catch (err) {
    return `no Docker engine answers at ${where} (start one with: eval "$(deploy/ci/start-dockerd.sh)"): ${(err as Error).message.split('\n')[0]}`;
  }
  try {
    await docker(['image', 'inspect', TEST_IMAGE]);
  } catch {
    return `the engine at ${where} has no ${TEST_IMAGE} image (deploy/ci/start-dockerd.sh builds it)`;
  }
  return undefined;
}

const notReady = await whyNotReady();

/** describe() for tests that need the engine: fails in CI without it, skips (saying why) elsewhere. */
export function describeDocker(name: string, fn: () => void): void {
  describeRequiring('a Docker engine and the test image are available', notReady, name, fn);
}

/** Names unique to this test process, and removal of everything made under them. */
export class DockerScratch {
  private n = 0;
  private readonly containers: string[] = [];
  private readonly volumes: string[] = [];
  readonly prefix: string;

  constructor(tag: string) {
    this.prefix = `cairn-t-${tag}-${process.pid}-`;
  }

  name(what: string): string {
    return `${this.prefix}${what}-${++this.n}`;
  }

  async volume(what: string, labels: Record<string, string> = {}): Promise<string> {
    const name = this.name(what);
    this.volumes.push(name);
    await docker(['volume', 'create', ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), name]);
    return name;
  }

  /**
   * A container of the test image with `volumes` mounted (NAME or NAME:/dest), running `script`
   * under sh. `detach` starts it in the background; otherwise it runs to completion (and its exit
   * code must be 0). `create` only creates it.
   */
  async container(
    what: string,
    opts: { volumes: string[]; script: string; labels?: Record<string, string>; mode: 'detach' | 'run' | 'create' },
  ): Promise<string> {
    const name = this.name(what);
    this.containers.push(name);
    const args = [
      '--name',
      name,
      '--network',
      'none',
      ...opts.volumes.flatMap((v) => ['-v', v.includes(':') ? v : `${v}:/data`]),
      ...Object.entries(opts.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      TEST_IMAGE,
      'sh',
      '-c',
      opts.script,
    ];
    if (opts.mode === 'create') await docker(['create', ...args]);
    else if (opts.mode === 'detach') await docker(['run', '-d', ...args]);
    else await docker(['run', ...args], { timeoutMs: 120_000 });
    return name;
  }

  async inspect(container: string): Promise<{ State: { Status: string; Running: boolean; Paused: boolean; StartedAt: string; FinishedAt: string } }> {
    return (
      JSON.parse(await docker(['inspect', container])) as Array<{
        State: { Status: string; Running: boolean; Paused: boolean; StartedAt: string; FinishedAt: string };
      }>
    )[0]!;
  }

  async removeVolume(name: string): Promise<void> {
    await docker(['volume', 'rm', name]);
  }

  async removeContainer(name: string): Promise<void> {
    await docker(['rm', '-f', name]);
  }

  async cleanup(): Promise<void> {
    for (const c of this.containers.reverse()) await docker(['rm', '-f', '-v', c]).catch(() => undefined);
    for (const v of this.volumes) await docker(['volume', 'rm', '-f', v]).catch(() => undefined);
  }
}

/** A shell loop that appends a numbered line to /data/log about 20 times a second, and exits on SIGTERM. */
export const WRITER_SCRIPT = 'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo "line $i" >> /data/log; sleep 0.05; done';
