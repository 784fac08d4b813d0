import type { CairnConfig } from '../../../protocol/config.js';
import type { ConfigDeps } from './services.js';
import { UsageError } from '../util/errors.js';

/** The effective settings (cairn.yaml plus command-line overrides), as the agent runs them now. */
export async function configOp(svc: ConfigDeps): Promise<CairnConfig> {
  if (!svc.config) throw new UsageError('no settings are loaded here', 'E_NO_CONFIG');
  return svc.config();
}
