// Every test file's temp directories (helpers/cli.ts tempDir: homes, data trees, restore targets)
// are removed after its last test: a whole run of the suite made gigabytes of them, left in /tmp.
// Registered first, so this afterAll runs after the file's own (which stop its agents).
import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers/cli.js';

afterAll(removeTempDirs);
