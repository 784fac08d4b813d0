// HashingWriter from the TypeScript sources: no compiled worker, the work is done inline.
import { hashingWriterSuite } from '../helpers/hashing-writer-suite.js';

hashingWriterSuite('inline (sources)', false, async () => import('../../src/store/hashing-writer.js'));
