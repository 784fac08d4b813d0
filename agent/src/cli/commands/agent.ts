import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { MAX_NAME_CHARS } from '../../../../protocol/mesh.js';
import { Agent } from '../../daemon.js';
import type { CairnConfig } from '../../../../protocol/config.js';
import { ConfigWatcher } from '../../config/watch.js';
import { EXAMPLE_CONFIG } from '../../config/example.js';
import { uploadLimitProblem } from '../../config/load.js';
import { homePaths } from '../../repo/home.js';
import { createRepository } from '../../compose-root.js';
import { UsageError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/fsx.js';
import { configFor, passphraseFor, type Context } from '../context.js';
import { homePassphraseFile } from '../passphrase.js';
import { phraseBlock, phraseMayShow, SHOW_PHRASE_HINT } from '../recovery-phrase.js';
import { parseDuration, parseSize } from '../../util/units.js';

/** Flags given on the command line override cairn.yaml (absent = the file's value or its default). */
export interface AgentCliOptions {
  listen?: string[];
  announce?: string[];
  api?: string;
  name?: string;
  replicas?: string;
  diskFloor?: string;
  replicateEvery?: string;
  bwlimit?: string;
  init?: boolean;
}

/** What --announce accepts: what cairn.yaml's announce accepts (config/schema.ts). */
const ANNOUNCE_RE = /^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d+$/;

/** The file's config with the command-line flags applied on top (also after each reload). */
function overrides(opts: AgentCliOptions): (c: CairnConfig) => CairnConfig {
  const replicas = opts.replicas === undefined ? undefined : Number(opts.replicas);
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1))
    throw new UsageError(`--replicas ${opts.replicas}: expected a whole number >= 1`);
  for (const a of opts.announce ?? [])
    if (!ANNOUNCE_RE.test(a))
      throw new UsageError(`--announce ${a}: expected a TCP multiaddr such as /dns4/nas.example.org/tcp/4001 or /ip4/203.0.113.7/tcp/4001`);
  if (opts.name !== undefined && (opts.name.length === 0 || opts.name.length > MAX_NAME_CHARS || /[\n\r]/.test(opts.name)))
    throw new UsageError(`--name: expected one line of 1 to ${MAX_NAME_CHARS} characters (friends see it), got ${opts.name.length}`);
  if (opts.api !== undefined && !/^(.+):(\d+)$/.test(opts.api)) throw new UsageError(`--api ${opts.api}: expected HOST:PORT, e.g. 127.0.0.1:8080`);
  const o: Partial<CairnConfig> = {
    ...(opts.listen && opts.listen.length > 0 ? { listen: opts.listen } : {}),
    ...(opts.announce && opts.announce.length > 0 ? { announce: opts.announce } : {}),
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(replicas !== undefined ? { replicas } : {}),
    ...(opts.diskFloor !== undefined ? { diskFloorBytes: parseSize(opts.diskFloor, '--disk-floor') } : {}),
    ...(opts.replicateEvery !== undefined ? { replicateIntervalMs: parseDuration(opts.replicateEvery, '--replicate-every') } : {}),
    ...(opts.bwlimit !== undefined ? { bandwidthBytesPerSec: parseSize(opts.bwlimit, '--bwlimit') } : {}),
  };
  const tooSlow = o.bandwidthBytesPerSec === undefined ? undefined : uploadLimitProblem(o.bandwidthBytesPerSec);
  if (tooSlow) throw new UsageError(`--bwlimit: ${tooSlow}`);
  // --api is the operator's explicit choice: it counts as allowing a remote address (with the warning below)
  return (c) => ({ ...c, ...o, ...(opts.api !== undefined ? { console: { ...c.console, address: opts.api, allowRemote: true } } : {}) });
}

function say(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

/** First start: create the repository, explaining what happened and what to keep safe. */
async function firstStart(ctx: Context): Promise<void> {
  let passphrase: string;
  if (process.env.CAIRN_PASSPHRASE || ctx.passphraseFile || process.stdin.isTTY) {
    say(`first start: creating a repository in ${ctx.home}`);
    passphrase = await passphraseFor(ctx, true);
  } else {
    await mkdir(ctx.home, { recursive: true, mode: 0o700 });
    passphrase = randomBytes(24).toString('base64url');
    await writeFileAtomic(homePassphraseFile(ctx.home), Buffer.from(passphrase + '\n'), 0o600);
    say(`first start: no CAIRN_PASSPHRASE and no terminal, so a random passphrase was generated and kept in ${homePassphraseFile(ctx.home)} (mode 600)`);
  }
  const { recoveryPhrase } = await createRepository(ctx.home, passphrase, new Date(ctx.clock.now()));
  // on a terminal only: a container's or service's output is kept in its log
  if (phraseMayShow()) {
    process.stdout.write(
      `\n${phraseBlock(recoveryPhrase)}` +
        `If this host is lost: install Cairn anywhere, get an invite from any friend, and run\n` +
        `  cairn recover --invite <code>     (it asks for this phrase)\n\n`,
    );
  } else
    say(
      `first start: the recovery phrase is not printed here (this output is not a terminal of yours: a log would keep it); write it down now: ${SHOW_PHRASE_HINT}`,
    );
}

export async function agentCommand(ctx: Context, opts: AgentCliOptions): Promise<void> {
  // the config is checked before anything starts: an invalid file stops here with exit 2
  const effective = overrides(opts);
  const config = effective(await configFor(ctx));
  if (!existsSync(homePaths(ctx.home).config)) {
    if (!opts.init) throw new UsageError(`no repository in ${ctx.home}: run "cairn init" first (or "cairn agent --init")`, 'E_NO_REPO');
    await firstStart(ctx);
  }
  if (opts.init && !existsSync(ctx.configFile)) {
    await writeFileAtomic(ctx.configFile, Buffer.from(EXAMPLE_CONFIG), 0o600);
    say(`wrote an example config to ${ctx.configFile} (everything in it is commented out; edit it and the agent reloads it)`);
  }
  const m = /^(.+):(\d+)$/.exec(config.console.address) as RegExpExecArray;
  const apiHost = (m[1] as string).replace(/^\[|\]$/g, '');
  if (!['127.0.0.1', 'localhost', '::1'].includes(apiHost))
    say(
      `warning: the API listens on ${apiHost}, not loopback (over TLS): anyone who can reach it and holds the token or the admin password controls this agent`,
    );
  const watcher = new ConfigWatcher(ctx.configFile, config, effective, say);
  const agent = await Agent.start({
    home: ctx.home,
    passphrase: await passphraseFor(ctx),
    listen: config.listen,
    announce: config.announce,
    lanDiscovery: config.lanDiscovery,
    portMapping: config.portMapping,
    stun: config.stun,
    webrtc: config.webrtc,
    apiHost,
    apiPort: Number(m[2]),
    consoleTls: {
      ...(config.console.tlsCert !== undefined ? { certFile: config.console.tlsCert } : {}),
      ...(config.console.tlsKey !== undefined ? { keyFile: config.console.tlsKey } : {}),
    },
    name: config.name ?? hostname().slice(0, MAX_NAME_CHARS),
    replicas: config.replicas,
    diskFloorBytes: config.diskFloorBytes,
    replicateIntervalMs: config.replicateIntervalMs,
    bandwidthBytesPerSec: config.bandwidthBytesPerSec,
    clock: ctx.clock,
    log: say,
    config: watcher,
  });
  watcher.start();
  say(
    `config: ${existsSync(ctx.configFile) ? ctx.configFile : `${ctx.configFile} (absent: defaults)`}, ${config.sources.length} source(s); reloads on change and SIGHUP`,
  );
  say(`agent ${agent.info.peerId} running; home ${ctx.home}`);
  say(`friends reach it at ${agent.info.addrs.join(' ')}`);
  say(`API at ${agent.info.api} (token in ${ctx.home}/agent.json); stop with Ctrl-C`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      say(`${sig}: stopping`);
      agent.stop().then(resolve, (err: unknown) => {
        say(`stop failed: ${(err as Error).message}`);
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
