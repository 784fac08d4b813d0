// The operations that need a part an agent may lack (the mesh; the scheduler and its job records)
// take it as a required dependency (ops/services.ts MeshDeps, JobDeps); the API's operation table
// checks that it is there before calling them. An API built without them (real repository, real
// LevelDB, fastify's inject) answers each such operation with E_NO_AGENT naming the operation, as
// the operations themselves did when they checked inside.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { API_PREFIX, API_TOKEN_HEADER } from '../../../protocol/api.js';
import { ConsoleAuth } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import type { Services } from '../../src/ops/services.js';
import type { Stores } from '../../src/compose-root.js';
import type { Repository } from '../../src/repo/repository.js';
import { initStores } from '../helpers/stores.js';
import { systemClock } from '../../src/util/clock.js';

const AGENT_TOKEN = 'agent-token-for-the-cli-0123456789';
const PEER = '12D3KooWAgentOnlyOpsTestPeer';

/** op -> valid arguments, and the words the error starts with. */
const CASES: Array<[string, object, string]> = [
  ['invite', { quotaBytes: 1024, expiresInMs: 60_000 }, 'creating an invite needs the running agent'],
  ['pair', { code: 'a-code', quotaBytes: 1024 }, 'pairing needs the running agent'],
  ['peers', {}, 'listing friends needs the running agent'],
  ['unpair', { peerId: PEER, dryRun: true }, 'removing a friend needs the running agent'],
  ['replicate', { wait: false }, 'replication needs the running agent'],
  ['audit', { wait: false }, 'a storage audit needs the running agent'],
  ['grant', { friend: 'bob', bytes: 1024 }, 'changing a grant needs the running agent'],
  ['ask', { friend: 'bob', bytes: 1024 }, 'asking for space needs the running agent'],
  ['drill', { wait: false }, 'a restore drill needs the running agent'],
  ['run', { source: 'db' }, 'jobs live in the running agent'],
  ['jobs', {}, 'jobs live in the running agent'],
  ['jobShow', { id: 'job-1' }, 'jobs live in the running agent'],
  ['jobCancel', { id: 'job-1' }, 'jobs live in the running agent'],
];

describe('HTTP API without a mesh or a scheduler', () => {
  let app: FastifyInstance;
  let repo: Repository;
  let stores: Stores | undefined;
  let host = '';
  beforeAll(async () => {
    const home = join(await mkdtemp(join(tmpdir(), 'cairn-agent-only-')), 'home');
    stores = await initStores(home, 'agent-only test passphrase', new Date());
    repo = stores.repo;
    const auth = await ConsoleAuth.open(home, systemClock, AGENT_TOKEN, () => undefined);
    const svc: Services = { home, repo, ledgers: stores.ledgers, clock: systemClock };
    app = buildApi(svc, { host: '127.0.0.1', port: 0, auth }, () => 'peer');
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await app?.close();
    await stores?.close();
  });

  for (const [op, args, words] of CASES) {
    test(`${op}: E_NO_AGENT, "${words}"`, async () => {
      const res = await app.inject({
        method: 'POST',
        url: `${API_PREFIX}/ops/${op}`,
        headers: { host, [API_TOKEN_HEADER]: AGENT_TOKEN, 'content-type': 'application/json' },
        payload: JSON.stringify(args),
      });
      expect(res.json(), res.body).toMatchObject({ code: 'E_NO_AGENT' });
      expect((res.json() as { message: string }).message).toContain(words);
    });
  }
});
