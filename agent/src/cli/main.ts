// The `cairn` command. Exit codes: 0 success, 1 the operation failed, 2 bad usage or input,
// 3 a snapshot was made but some files could not be read. Errors are one line on stderr
// (the stack only with --debug).
import { Command, CommanderError, Option } from 'commander';
import { CairnError, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, InterruptedError } from '../util/errors.js';
import { errorSpec } from '../../../protocol/errors.js';
import { AGENT_DEFAULTS, DEFAULT_LISTEN } from './defaults.js';
import { withFilterOptions, type FilterCliOptions } from './snapshot-filter.js';
import type { AgentCliOptions } from './commands/agent.js';
import { makeContext, type Context, type GlobalOptions } from './context.js';
import { installCpuReport } from '../util/thread-cpu.js';

let debug = process.argv.includes('--debug');
installCpuReport();

function common(cmd: Command): Command {
  return cmd
    .option('--json', 'print machine-readable JSON')
    .option('--passphrase-file <file>', 'read the passphrase from the first line of FILE (else CAIRN_PASSPHRASE, else a prompt)')
    .option('--debug', 'print stack traces on errors')
    .addOption(new Option('--home <dir>', 'the Cairn home (default: CAIRN_HOME or ~/.cairn)'))
    .addOption(new Option('--config <file>', 'the settings file (default: cairn.yaml in the home)'));
}

function action<A extends unknown[]>(fn: (ctx: Context, ...args: A) => Promise<number | void>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as GlobalOptions;
    debug = opts.debug === true;
    const code = await fn(makeContext(opts), ...(args.slice(0, -1) as A));
    if (typeof code === 'number') process.exitCode = code;
  };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

const program = new Command('cairn')
  .description('Encrypted, deduplicated backups of Docker volumes and directories, kept locally and at friends')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(str) })
  .showHelpAfterError('(run "cairn --help" for usage)');

common(program.command('init').description('create the home and repository; prints the recovery phrase on a terminal only')).action(
  action(async (ctx) => (await import('./commands/init.js')).initCommand(ctx)),
);

common(
  program
    .command('backup')
    .description('make one snapshot of PATH... (volume:NAME for a Docker volume)')
    .argument('[path...]', 'files or directories to back up, or volume:NAME'),
)
  .option('--tag <tag>', 'tag the snapshot (repeatable)', collect)
  .option('-e, --exclude <pattern>', 'leave out what matches: a name glob (*.tmp), a path end (cache/*), a whole path from / (repeatable)', collect)
  .option('--exclude-file <file>', 'read exclude patterns from FILE, one a line, # comments (repeatable)', collect)
  .option('-x, --one-file-system', 'do not cross into other file systems below the paths (mountpoints stay, empty)')
  .option('-n, --dry-run', 'show what would be stored, write nothing')
  .option('--stdin', 'store what standard input gives as one file (e.g. pg_dump | cairn backup --stdin)')
  .option('--stdin-filename <name>', 'the name of that file (default "stdin")')
  .option('--json-progress', 'print JSON lines: progress events while it runs, then the result')
  .addHelpText(
    'after',
    '\nExamples:\n  cairn backup /srv/data --exclude "*.tmp" --exclude-file /etc/cairn/excludes\n  cairn backup / -x --dry-run\n  pg_dump mydb | cairn backup --stdin --stdin-filename mydb.sql --tag postgres',
  )
  .option(
    '--volume-read <how>',
    'how volume:NAME is read: auto (its mountpoint when readable here, else a helper container), mountpoint, helper (default: CAIRN_VOLUME_READ, else auto)',
  )
  .action(
    action(async (ctx, paths: string[], opts: import('./commands/backup.js').BackupCliOptions) =>
      (await import('./commands/backup.js')).backupCommand(ctx, paths, opts),
    ),
  );

common(program.command('volumes').description('list Docker volumes: driver, size, containers mounting them, their cairn.* labels, last snapshot')).action(
  action(async (ctx) => (await import('./commands/volumes.js')).volumesCommand(ctx)),
);

withFilterOptions(
  common(program.command('snapshots').description('list snapshots').addHelpText('after', '\nExample:\n  cairn snapshots --source photos --latest 3')),
)
  .option('--latest <n>', 'only the newest N snapshots of each source (ad-hoc backups: of each host and set of paths)')
  .action(
    action(async (ctx, opts: import('./commands/snapshots.js').SnapshotsCliOptions) => (await import('./commands/snapshots.js')).snapshotsCommand(ctx, opts)),
  );

common(program.command('forget').description('remove snapshots a retention policy does not keep (their data goes with "cairn prune")'))
  .option('--keep-last <n>', 'keep the N newest snapshots ("unlimited" = all)')
  .option('--keep-hourly <n>', 'keep the newest snapshot of each of the N newest hours that have one')
  .option('--keep-daily <n>', 'keep the newest snapshot of each of the N newest days that have one')
  .option('--keep-weekly <n>', 'keep the newest snapshot of each of the N newest ISO weeks that have one')
  .option('--keep-monthly <n>', 'keep the newest snapshot of each of the N newest months that have one')
  .option('--keep-yearly <n>', 'keep the newest snapshot of each of the N newest years that have one')
  .option('--keep-within <duration>', 'keep every snapshot within DURATION (e.g. 36h, 7d, 2w) of the newest one')
  .option('--keep-tag <tag>', 'keep every snapshot carrying TAG (repeatable)', collect)
  .option('--source <name>', 'only the snapshots of this configured source')
  .option('--time-zone <zone>', 'IANA time zone for hours, days, weeks, months and years (default: the local zone)')
  .option('--dry-run', 'show what would be removed, remove nothing')
  .action(action(async (ctx, opts: import('./commands/forget.js').ForgetCliOptions) => (await import('./commands/forget.js')).forgetCommand(ctx, opts)));

withFilterOptions(
  common(
    program
      .command('tag')
      .description('change the tags of snapshots (restic tag): those named, else every one the filters match; a changed snapshot gets a new ID')
      .argument('[snapshot...]', 'snapshot IDs, unique prefixes, or "latest"'),
  ),
)
  .option('--add <tags>', 'add these tags: tag[,tag,...] (repeatable)', collect)
  .option('--remove <tags>', 'remove these tags: tag[,tag,...] (repeatable)', collect)
  .option('--set <tags>', 'replace all tags by these: tag[,tag,...] (repeatable; --set "" removes all)', collect)
  .addHelpText(
    'after',
    '\nExamples:\n  cairn tag latest --add keep,release\n  cairn tag --tag nightly --remove nightly --add weekly\n  cairn tag 1a2b3c4d --set ""',
  )
  .action(
    action(async (ctx, snaps: string[], opts: import('./commands/tag.js').TagCliOptions) => (await import('./commands/tag.js')).tagCommand(ctx, snaps, opts)),
  );

common(program.command('pin').description('pin a snapshot: forget never removes it').argument('<snapshot>', 'snapshot ID, unique prefix, or "latest"')).action(
  action(async (ctx, snap: string) => (await import('./commands/pin.js')).pinCommand(ctx, snap, false)),
);

common(program.command('unpin').description('unpin a snapshot').argument('<snapshot>', 'snapshot ID, unique prefix, or "latest"')).action(
  action(async (ctx, snap: string) => (await import('./commands/pin.js')).pinCommand(ctx, snap, true)),
);

common(
  program
    .command('ls')
    .description('list the files of a snapshot, below PATH if given')
    .argument('<snapshot>', 'snapshot ID, unique prefix, or "latest"')
    .argument('[path]'),
).action(action(async (ctx, snap: string, path: string | undefined) => (await import('./commands/browse.js')).lsCommand(ctx, snap, path)));

withFilterOptions(common(program.command('stats').description('how much the snapshots hold and the repository stores (restic stats)')))
  .addHelpText('after', '\nExamples:\n  cairn stats\n  cairn stats --source postgres --json')
  .action(action(async (ctx, opts: FilterCliOptions) => (await import('./commands/stats.js')).statsCommand(ctx, opts)));

withFilterOptions(
  common(
    program
      .command('find')
      .description('find files and folders by name or path across snapshots (restic find)')
      .argument('<pattern...>', 'a glob: a name (*.sql), a path end (db/*.conf) or, from /, a whole path'),
  ),
)
  .option('-i, --ignore-case', 'match regardless of case')
  .addHelpText('after', '\nExamples:\n  cairn find "*.sql"\n  cairn find -i "photo_2024*" --source pictures\n  cairn find "/srv/app/config/*.yml" --json')
  .action(
    action(async (ctx, patterns: string[], opts: FilterCliOptions & { ignoreCase?: boolean }) =>
      (await import('./commands/browse.js')).findCommand(ctx, patterns, opts),
    ),
  );

common(program.command('diff').description('show what changed between two snapshots').argument('<snapshot1>').argument('<snapshot2>')).action(
  action(async (ctx, a: string, b: string) => (await import('./commands/browse.js')).diffCommand(ctx, a, b)),
);

withFilterOptions(
  common(
    program
      .command('restore')
      .description('restore a snapshot into a directory (--target) or a Docker volume (--to-volume)')
      .argument(
        '<snapshot>',
        'snapshot ID, unique prefix, or "latest" (the newest that --source/--path/--tag/--host match); SNAP:PATH restores the contents of PATH',
      )
      .addHelpText(
        'after',
        '\nExamples:\n  cairn restore latest --source db --target /tmp/db\n  cairn restore latest:/srv/data/photos --path /srv/data --target /mnt/photos\n  cairn restore latest --target /tmp/r --exclude "*.log" --verify\n  cairn restore 1a2b3c4d --target /tmp/r --include /srv/app --dry-run',
      ),
  ),
)
  .option('--target <dir>', 'directory to restore into (created if missing)')
  .option('--include <path>', 'restore only this path (repeatable)', collect)
  .option('--overwrite', 'replace existing files that differ')
  .option('--to-volume <name>', 'restore the volume the snapshot holds into Docker volume NAME (created if missing)')
  .option('--from-volume <name>', 'with --to-volume: which volume of the snapshot, when it holds several')
  .option('--force', 'with --to-volume: replace an existing volume (its containers are stopped and started again)')
  .option('-e, --exclude <pattern>', 'leave out what matches (as backup --exclude: a name glob, a path end, a whole path from /; repeatable)', collect)
  .option('--verify', 'read every restored file back and compare it with the snapshot; a file that differs fails the restore, named')
  .option('--dry-run', 'list what would be restored (with --to-volume: what would change), write nothing')
  .option('--json-progress', 'print JSON lines: progress events while it runs, then the result')
  .action(
    action(async (ctx, snap: string, opts: import('./commands/restore.js').RestoreCliOptions) =>
      (await import('./commands/restore.js')).restoreCommand(ctx, snap, opts),
    ),
  );

common(
  program.command('dump').description('write one file of a snapshot to stdout as it is (a folder: as a tar stream)').argument('<snapshot>').argument('<path>'),
)
  .addHelpText(
    'after',
    '\nExamples:\n  cairn dump latest /srv/app/config.yml\n  cairn dump 1a2b3c4d /var/lib/postgresql/dump.sql > dump.sql\n  cairn dump latest /srv/app > app.tar   # a folder: a tar stream',
  )
  .action(action(async (ctx, snap: string, path: string) => (await import('./commands/export.js')).dumpCommand(ctx, snap, path)));
common(program.command('export').description('write a snapshot (or PATH in it) as a tar stream to stdout').argument('<snapshot>').argument('[path]')).action(
  action(async (ctx, snap: string, path: string | undefined) => (await import('./commands/export.js')).exportCommand(ctx, snap, path)),
);

common(program.command('run').description('run a configured source now (needs the running agent)').argument('<source>'))
  .option('--wait', 'follow the job and exit with its outcome (0 succeeded, 1 failed)')
  .action(action(async (ctx, source: string, opts: { wait?: boolean }) => (await import('./commands/jobs.js')).runCommand(ctx, source, opts)));

const jobsCmd = common(program.command('jobs').description("list the agent's jobs (scheduled and manual runs), newest first"))
  .option('--source <name>', "only this source's jobs")
  .action(action(async (ctx, opts: { source?: string }) => (await import('./commands/jobs.js')).jobsCommand(ctx, opts)));
common(jobsCmd.command('show').description('one job with its log (ID: the whole, or its last 6 characters as the console shows it)').argument('<id>')).action(
  action(async (ctx, id: string) => (await import('./commands/jobs.js')).jobShowCommand(ctx, id)),
);
common(
  jobsCmd
    .command('cancel')
    .description('cancel a running job (a backup stops before its snapshot; what it stored is reused next time)')
    .argument('<id>')
    .addHelpText('after', '\nExamples:\n  cairn jobs cancel 3f9a1c   # the last 6 characters, as cairn jobs and the console show them'),
)
  .option('--wait', 'wait until the job has stopped, and print how it ended')
  .action(action(async (ctx, id: string, opts: { wait?: boolean }) => (await import('./commands/jobs.js')).jobCancelCommand(ctx, id, opts)));

common(program.command('prune').description('remove data no snapshot needs, locally, and ask friends to delete their copies (after their grace)'))
  .option('--dry-run', 'show what would be removed, change nothing')
  .option('--max-unused <percent>', 'repack packs with more than this share of unneeded bytes (default 20)')
  .option('--json-progress', 'print JSON lines: progress events while it runs, then the result')
  .action(action(async (ctx, opts: { dryRun?: boolean; maxUnused?: string }) => (await import('./commands/prune.js')).pruneCommand(ctx, opts)));

common(program.command('check').description('verify the repository structure; with --read-data, every byte'))
  .option('--read-data', 'read and verify every pack')
  .option('--read-data-subset <n/t|N%>', 'read and verify part of the packs: a random share (10%) or one of t fixed groups (1/5)')
  .option('--json-progress', 'print JSON lines: progress events while it runs, then the result')
  .addHelpText(
    'after',
    '\nExamples:\n  cairn check --read-data\n  cairn check --read-data-subset 5%    # a random 5% of the packs\n  cairn check --read-data-subset 2/7   # the 2nd of 7 groups: 7 runs read every pack once',
  )
  .action(action(async (ctx, opts: { readData?: boolean; readDataSubset?: string }) => (await import('./commands/check.js')).checkCommand(ctx, opts)));

common(program.command('agent').description('run the agent: friend mesh, replication, local API'))
  .option('--listen <multiaddr>', `libp2p listen address (repeatable; default ${DEFAULT_LISTEN})`, collect)
  .option('--announce <multiaddr>', 'also tell friends this address, e.g. /dns4/nas.example.org/tcp/4001 for a forwarded port (repeatable)', collect)
  .option('--api <host:port>', `local API and console address (default ${AGENT_DEFAULTS.api})`)
  .option('--name <name>', 'the name friends see (default: hostname)')
  .option('--replicas <n>', `copies of each pack at friends, capped by the number of friends (default ${AGENT_DEFAULTS.replicas})`)
  .option('--disk-floor <size>', `refuse friends' packs when free disk would drop below this (default ${AGENT_DEFAULTS.diskFloor})`)
  .option('--replicate-every <duration>', `replication interval (default ${AGENT_DEFAULTS.replicateEvery})`)
  .option('--bwlimit <size>', 'upload limit for replication per second, e.g. 5M (default: unlimited)')
  .option('--init', 'create the repository on first start')
  .action(action(async (ctx, opts: AgentCliOptions) => (await import('./commands/agent.js')).agentCommand(ctx, opts)));

const keyCmd = program.command('key').description("the repository's key");
common(keyCmd.command('show-phrase').description('print the recovery phrase (asks for the passphrase; on a terminal only, never into a pipe or log)')).action(
  action(async (ctx) => (await import('./commands/key.js')).showPhraseCommand(ctx)),
);

common(keyCmd.command('passwd').description('change the passphrase (restic key passwd): the key file is re-wrapped, the old passphrase stops working'))
  .option('--new-password-file <file>', 'read the new passphrase from the first line of FILE (else a prompt, twice)')
  .addHelpText('after', '\nExamples:\n  cairn key passwd\n  cairn key passwd --passphrase-file old.txt --new-password-file new.txt')
  .action(action(async (ctx, opts: { newPasswordFile?: string }) => (await import('./commands/key.js')).passwdCommand(ctx, opts)));

const consoleCmd = program.command('console').description('the web console');
common(consoleCmd.command('reset-password').description('make a new admin password for the console (the agent must be stopped; API tokens stay)')).action(
  action(async (ctx) => (await import('./commands/console.js')).consoleResetPasswordCommand(ctx)),
);

const configCmd = program.command('config').description('the settings file (cairn.yaml)');
common(configCmd.command('check').description("validate the settings file and print the effective settings; exit 2 naming each problem's line")).action(
  action(async (ctx) => (await import('./commands/config.js')).configCheckCommand(ctx)),
);

common(program.command('invite').description('make a one-time invite code for a friend (needs the running agent)'))
  .option('--quota <size>', 'space offered to the friend (default: friends.grant in cairn.yaml, else 10G)')
  .option('--expires <duration>', 'how long the code is valid', '24h')
  .action(action(async (ctx, opts: { quota?: string; expires: string }) => (await import('./commands/friends.js')).inviteCommand(ctx, opts)));

common(program.command('pair').description('pair with a friend using their invite code').argument('<code>'))
  .option('--quota <size>', 'space offered to the friend (default: friends.grant in cairn.yaml, else 10G)')
  .action(action(async (ctx, code: string, opts: { quota?: string }) => (await import('./commands/friends.js')).pairCommand(ctx, code, opts)));

common(
  program.command('status').description('what the dashboard shows: sources, last and next runs, copies, friends, space, alerts; exit 1 on an error alert'),
).action(action(async (ctx) => (await import('./commands/status.js')).statusCommand(ctx)));

common(program.command('unpair').description('remove a friend (name or PeerId): our copies there stop counting, theirs here are deleted').argument('<friend>'))
  .option('--dry-run', 'say what would happen, change nothing')
  .action(action(async (ctx, friend: string, opts: { dryRun?: boolean }) => (await import('./commands/friends.js')).unpairCommand(ctx, friend, opts)));

common(program.command('peers').description('list friends, their space both ways and their health')).action(
  action(async (ctx) => (await import('./commands/friends.js')).peersCommand(ctx)),
);

common(program.command('replicate').description('push packs and the snapshot list to friends now'))
  .option('--wait', 'return when every pack has its copies, or say why not')
  .option('--json-progress', 'print JSON lines: progress events while it runs, then the result')
  .action(action(async (ctx, opts: { wait?: boolean }) => (await import('./commands/friends.js')).replicateCommand(ctx, opts)));

common(program.command('audit').description('challenge every pack at every friend now: friends prove they still hold our packs; exit 1 when one fails'))
  .option('--wait', 'then replicate until the packs that failed are copied again')
  .option('--friend <friend>', 'only this friend (name or PeerId)')
  .action(action(async (ctx, opts: { wait?: boolean; friend?: string }) => (await import('./commands/audit.js')).auditCommand(ctx, opts)));

common(
  program
    .command('grant')
    .description('change what a friend may store here (it is told), or turn down its request for more')
    .argument('<friend>')
    .argument('[size]'),
)
  .option('--refuse', "turn down the friend's pending request for more space")
  .action(
    action(async (ctx, friend: string, size: string | undefined, opts: { refuse?: boolean }) =>
      (await import('./commands/grants.js')).grantCommand(ctx, friend, size, opts),
    ),
  );

common(
  program
    .command('ask')
    .description('ask a friend for more space there: the request shows on its side to grant or refuse')
    .argument('<friend>')
    .argument('<size>'),
)
  .option('--note <text>', 'a short note shown with the request (at most 200 characters)')
  .action(
    action(async (ctx, friend: string, size: string, opts: { note?: string }) => (await import('./commands/grants.js')).askCommand(ctx, friend, size, opts)),
  );

common(program.command('drill').description("restore a sample of each source's newest snapshot from friends' copies alone and verify it; exit 1 when it fails"))
  .option('--source <source>', 'only this source')
  .option('--wait', 'wait for the drill and show its result')
  .action(action(async (ctx, opts: { source?: string; wait?: boolean }) => (await import('./commands/drill.js')).drillCommand(ctx, opts)));

common(program.command('recover').description("rebuild a lost host's home from a friend (recovery phrase from --phrase-file or a prompt without echo)"))
  .requiredOption('--invite <code>', 'an invite code from any friend of the lost host')
  .option('--phrase-file <file>', 'read the recovery phrase from the first line of FILE (mode 600: only its owner may read it)')
  .action(action(async (ctx, opts: { invite: string; phraseFile?: string }) => (await import('./commands/recover.js')).recoverCommand(ctx, opts)));

const relayCmd = program.command('relay').description('a friends-only relay for a small public server: no repository, no Docker (SPEC 13.1)');
common(relayCmd.command('run', { isDefault: true }).description('run the relay (the default of "cairn relay")'))
  .option('--listen <multiaddr>', `libp2p listen address (repeatable; default ${DEFAULT_LISTEN})`, collect)
  .option('--announce <multiaddr>', 'also tell friends this address (a port forward, a DNS name; repeatable)', collect)
  .option('--api <host:port>', 'local API address, loopback only (default 127.0.0.1:8081)')
  .option('--name <name>', 'the name friends see (default: hostname)')
  .option('--rate <size>', 'relayed bytes per second per friend (default: relay.rate in cairn.yaml, else 4M; 0: unlimited)')
  .option('--daily <size>', 'relayed bytes per UTC day per friend (default: relay.daily in cairn.yaml, else 8G; 0: unlimited)')
  .action(action(async (ctx, opts: import('./commands/relay.js').RelayCliOptions) => (await import('./commands/relay.js')).relayCommand(ctx, opts)));
common(relayCmd.command('invite').description('make a one-time invite code for a friend of the relay (they pair with --quota 0)'))
  .option('--expires <duration>', 'how long the code is valid', '24h')
  .action(action(async (ctx, opts: { expires: string }) => (await import('./commands/relay.js')).relayInviteCommand(ctx, opts)));
common(relayCmd.command('status').description("the relay's friends, reservations and relayed bytes (--json for a health check)")).action(
  action(async (ctx) => (await import('./commands/relay.js')).relayStatusCommand(ctx)),
);
common(relayCmd.command('unpair').description('remove a friend of the relay (name or PeerId)').argument('<friend>')).action(
  action(async (ctx, friend: string) => (await import('./commands/relay.js')).relayUnpairCommand(ctx, friend)),
);

function fail(err: unknown): void {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) {
      process.exitCode = 0;
      return;
    }
    process.exitCode = EXIT_USAGE;
    return;
  }
  // the exit code the error catalogue gives the code (SPEC 12.1), wherever the error was thrown
  // (a job our own Ctrl-C cancelled: 130, as the shell would report the interrupt)
  const code = err instanceof InterruptedError ? EXIT_INTERRUPTED : err instanceof CairnError ? (errorSpec(err.code)?.exit ?? err.exitCode) : EXIT_FAILED;
  const message = err instanceof Error ? err.message : String(err);
  const errno = (err as NodeJS.ErrnoException).code;
  const hint = errno === 'ENOSPC' ? ' (the disk is full: free space and run the command again; nothing committed was lost)' : '';
  // one line per problem: a config file can have several, each naming its line
  const problems = (err as { lines?: unknown }).lines;
  const lines = err instanceof CairnError && Array.isArray(problems) && problems.length > 0 ? problems.map(String) : [`${message.split('\n')[0]}${hint}`];
  for (const line of lines) process.stderr.write(`cairn: ${line}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exitCode = code;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
