import tseslint from 'typescript-eslint';

// ---- Layers (docs/ARCHITECTURE.md explains them; this table is what enforces them) ---------------
// agent/src folders, lowest first. A folder may import only from lower rows (and protocol/, which
// imports nothing from agent/); folders on one row do not import each other. Upward imports are
// lint errors, static or dynamic (import()), type-only ones too.
const LAYERS = [
  ['util'],
  ['crypto', 'chunker', 'state', 'config'],
  ['store'],
  ['repo'],
  ['snapshot'],
  ['sources'],
  ['mesh'],
  ['scheduler'],
  ['ops'],
  ['notify'],
  ['api'],
  ['compose-root.ts'],
  ['daemon.ts'],
  ['cli'],
];

// Narrower than the rows: who may import these lower folders at all.
const ONLY_FROM = {
  // the agent's LevelDB: opened by the composition root, which hands repo/ its engine sublevels and mesh/ and
  // scheduler/ theirs (their ledgers); the rest get what they need passed in
  state: ['repo', 'mesh', 'scheduler', 'compose-root.ts', 'daemon.ts'],
  // cairn.yaml's files (load, edit, watch): read by the entry points, which pass values (protocol/config.ts types) down
  config: ['api', 'daemon.ts', 'cli'],
};

// The CLI reaches the engine only through ops/ (and util/, config/, protocol/; the daemon to start it).
// The home's layout (repo/home.ts: paths, no code that opens anything) is open to it.
const CLI_ALSO_FORBIDDEN = ['crypto', 'chunker', 'store', 'repo', 'snapshot', 'sources', 'mesh', 'scheduler', 'notify', 'api'];
const CLI_ALLOWED_FILES = ['**/repo/home.js'];

// Libraries kept in their folders.
const LIBRARIES = [
  { folder: 'state', names: ['level', 'classic-level', 'abstract-level'], what: 'LevelDB' },
  { folder: 'mesh', names: ['libp2p', '@libp2p/*', '@chainsafe/libp2p-*', '@multiformats/*', '@achingbrain/nat-port-mapper'], what: 'libp2p' },
  { folder: 'sources', names: ['dockerode'], what: 'dockerode' },
  { folder: 'crypto', names: ['sodium-native'], what: 'sodium' },
];

const DATE_NOW = {
  selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
  message: 'inject a Clock (agent/src/util/clock.ts) instead of Date.now()',
};

const glob = (folder) => (folder.endsWith('.ts') ? `**/${folder.replace(/\.ts$/, '.js')}` : `**/${folder}/*`);
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function restrictions(folder, rank) {
  const forbidden = new Set();
  LAYERS.forEach((row, i) => row.forEach((f) => (i > rank || (i === rank && f !== folder)) && forbidden.add(f)));
  for (const [f, importers] of Object.entries(ONLY_FROM)) if (f !== folder && !importers.includes(folder)) forbidden.add(f);
  if (folder === 'cli') CLI_ALSO_FORBIDDEN.forEach((f) => forbidden.add(f));
  if (folder === 'util') forbidden.add('protocol');
  const patterns = [...forbidden].map((f) => ({
    group: [glob(f), ...(folder === 'cli' && f === 'repo' ? CLI_ALLOWED_FILES.map((a) => `!${a}`) : [])],
    message: `${folder} may not import ${f} (layers: docs/ARCHITECTURE.md, eslint.config.js LAYERS)`,
  }));
  // benchmark-only code lives in bench/ and reaches an agent through its own entry point (bench/sink/agent.ts)
  patterns.push({ group: ['**/bench/**'], message: 'the product never imports bench/ (docs/ARCHITECTURE.md)' });
  for (const lib of LIBRARIES)
    if (lib.folder !== folder) patterns.push({ group: lib.names, message: `${lib.what} is used only in ${lib.folder}/ (docs/ARCHITECTURE.md)` });
  // no-restricted-imports does not see import(): the same folders, as a syntax rule (\u002F is "/", which
  // esquery's regex literals cannot hold)
  const dirs = [...forbidden].filter((f) => !f.endsWith('.ts'));
  const dynamic =
    dirs.length === 0
      ? []
      : [
          {
            selector: `ImportExpression[source.value=/(^|\\u002F)(${dirs.map(escapeRe).join('|')})\\u002F/]`,
            message: `${folder} may not import() that folder (layers: docs/ARCHITECTURE.md, eslint.config.js LAYERS)`,
          },
        ];
  return {
    files: [folder.endsWith('.ts') ? `agent/src/${folder}` : `agent/src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns }],
      'no-restricted-syntax': ['error', DATE_NOW, ...dynamic],
    },
  };
}

const layerBlocks = LAYERS.flatMap((row, rank) => row.map((folder) => restrictions(folder, rank)));

const outsideAgent = (message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: ['**/agent/**'], message }, ...LIBRARIES.map((lib) => ({ group: lib.names, message }))] }],
  'no-restricted-syntax': ['error', DATE_NOW, { selector: 'ImportExpression[source.value=/(^|\\u002F)agent\\u002F/]', message }],
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/data/', '**/*.js', '!bin/*.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', DATE_NOW],
    },
  },
  ...layerBlocks,
  // protocol/ is the bottom: formats and limits, nothing from agent/
  { files: ['protocol/**/*.ts'], ignores: ['protocol/**/*.test.ts'], rules: outsideAgent('protocol/ imports nothing from agent/ (docs/ARCHITECTURE.md)') },
  // the console is a client of the API: it shares protocol/ types only
  { files: ['console/**/*.ts'], rules: outsideAgent('the console reaches the agent only through the API: import protocol/ types only (docs/ARCHITECTURE.md)') },
);
