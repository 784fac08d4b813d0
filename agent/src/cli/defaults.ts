// Command-line defaults, kept apart so parsing the command line loads no heavy module.
import { CONFIG_DEFAULTS } from '../../../protocol/config.js';

export const DEFAULT_LISTEN = CONFIG_DEFAULTS.listen[0];
export const DEFAULT_REPLICAS = CONFIG_DEFAULTS.replicas;
export const AGENT_DEFAULTS = { api: CONFIG_DEFAULTS.console.address, replicas: String(DEFAULT_REPLICAS), diskFloor: '1G', replicateEvery: '15m' };
