// A config's defaults filled in (protocol/config.ts CONFIG_DEFAULTS), apart from the YAML and its
// checks (load.ts): a command run without a config file gets the defaults without loading those.
import { CONFIG_DEFAULTS, type CairnConfig, type SourceConfig } from '../../../protocol/config.js';

/** What load.ts makes of an empty file: every default. */
export function defaultConfig(): CairnConfig {
  return withDefaults({});
}

export function withDefaults(raw: Record<string, unknown>): CairnConfig {
  const r = raw as Partial<CairnConfig> & { sources?: Array<Partial<SourceConfig>> };
  const d = CONFIG_DEFAULTS;
  return {
    ...(r.name !== undefined ? { name: r.name } : {}),
    sources: (r.sources ?? []).map((s) => ({
      name: s.name as string,
      volumes: s.volumes ?? [],
      volumeSelectors: s.volumeSelectors ?? [],
      paths: s.paths ?? [],
      exclude: s.exclude ?? [],
      ...(s.schedule !== undefined ? { schedule: s.schedule } : {}),
      retention: s.retention ?? {},
      tags: s.tags ?? [],
      ...(s.consistency !== undefined ? { consistency: s.consistency } : {}),
      ...(s.volumeRead !== undefined ? { volumeRead: s.volumeRead } : {}),
    })),
    replicas: r.replicas ?? d.replicas,
    friends: { ...d.friends, ...r.friends, audit: { ...d.friends.audit, ...r.friends?.audit } },
    bandwidthBytesPerSec: r.bandwidthBytesPerSec ?? d.bandwidthBytesPerSec,
    listen: r.listen ?? [...d.listen],
    announce: r.announce ?? [...d.announce],
    lanDiscovery: r.lanDiscovery ?? d.lanDiscovery,
    portMapping: r.portMapping ?? d.portMapping,
    relay: { ...d.relay, ...r.relay },
    stun: r.stun ?? [...d.stun],
    webrtc: r.webrtc ?? d.webrtc,
    console: { ...d.console, ...r.console },
    maintenance: { ...r.maintenance },
    drills: r.drills?.schedule === 'off' ? {} : { ...d.drills, ...r.drills },
    diskFloorBytes: r.diskFloorBytes ?? d.diskFloorBytes,
    replicateIntervalMs: r.replicateIntervalMs ?? d.replicateIntervalMs,
  };
}
