// Command-line defaults, kept apart so parsing the command line loads no heavy module.

export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/4001';
export const DEFAULT_REPLICAS = 2;
export const AGENT_DEFAULTS = { api: '127.0.0.1:8080', replicas: String(DEFAULT_REPLICAS), diskFloor: '1G', replicateEvery: '15m' };
