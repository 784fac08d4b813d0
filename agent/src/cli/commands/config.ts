import { configFor, type Context } from '../context.js';
import { formatBytes, scheduleWords } from '../format.js';

/** `cairn config check`: validates the settings file; prints the effective settings. */
export async function configCheckCommand(ctx: Context): Promise<void> {
  const config = await configFor(ctx);
  if (ctx.json) {
    process.stdout.write(JSON.stringify({ file: ctx.configFile, config }, null, 2) + '\n');
    return;
  }
  const out = [
    `${ctx.configFile}: valid`,
    `  replicas ${config.replicas}, friends get ${formatBytes(config.friends.grantBytes)} by default, deletion grace ${config.friends.deletionGraceMs / 3_600_000} h`,
  ];
  out.push(
    `  console ${config.console.address}${config.console.allowRemote ? ' (remote allowed)' : ''}${config.console.tlsCert ? ` (TLS: ${config.console.tlsCert})` : ''}, libp2p ${config.listen.join(' ')}`,
    `  LAN discovery (mDNS) ${config.lanDiscovery ? 'on' : 'off'}, port mapping on the router ${config.portMapping ? 'on' : 'off'}`,
  );
  for (const s of config.sources) {
    const what = [...s.volumes.map((v) => `volume:${v}`), ...s.volumeSelectors.map((l) => `volumes labelled ${l}`), ...s.paths].join(', ');
    out.push(`  source ${s.name}: ${what}; ${s.schedule ? `schedule ${scheduleWords(s.schedule)}` : 'no schedule (cairn run only)'}`);
  }
  if (config.sources.length === 0) out.push('  no sources: backups run only when asked (cairn backup)');
  process.stdout.write(out.join('\n') + '\n');
}
