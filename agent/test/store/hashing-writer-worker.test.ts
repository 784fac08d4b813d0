// HashingWriter from dist/, as the agent runs it: hashing and writing on the worker thread.
import type * as HashingWriterModule from '../../src/store/hashing-writer.js';
import { hashingWriterSuite } from '../helpers/hashing-writer-suite.js';

const compiled: string = new URL('../../../dist/agent/src/store/hashing-writer.js', import.meta.url).href;
hashingWriterSuite('worker thread (dist)', true, async () => (await import(compiled)) as typeof HashingWriterModule);
