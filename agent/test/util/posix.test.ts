// keepFreedMemory goes through FFI to glibc's mallopt, which answers 1 even to a parameter it does
// not know: only the allocator's behaviour shows the thresholds took. In a fresh process (glibc's
// defaults: blocks from 128 KiB up are mmapped), a 4 MiB buffer is mmapped before the call and
// taken from the heap after it; mallinfo2's hblkhd counts the mmapped bytes. Runs the compiled
// module (dist/, built before the tests), as the agent does.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const compiled = join(root, 'dist', 'agent', 'src', 'util', 'posix.js');

const probe = `
import koffi from 'koffi';
import { keepFreedMemory } from ${JSON.stringify(pathToFileURL(compiled).href)};
const libc = koffi.load('libc.so.6');
const Info = koffi.struct('cairn_mallinfo2', Object.fromEntries(['arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost'].map((k) => [k, 'size_t'])));
const mallinfo2 = libc.func('cairn_mallinfo2 mallinfo2(void)');
const mapped = () => Number(mallinfo2().hblkhd);
const held = [];
const grow = () => { const before = mapped(); held.push(new ArrayBuffer(4 << 20)); return mapped() - before; };
const untuned = grow();
const accepted = keepFreedMemory();
const tuned = grow();
console.log(JSON.stringify({ untuned, accepted, tuned }));
`;

describe('keepFreedMemory', () => {
  it('makes glibc take 4 MiB buffers from the heap instead of mmapping each', () => {
    expect(existsSync(compiled), `${compiled} missing: run npm run build`).toBe(true);
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: root, encoding: 'utf8' })) as {
      untuned: number;
      accepted: boolean;
      tuned: number;
    };
    expect(out.untuned).toBeGreaterThanOrEqual(4 << 20); // the default: mmapped
    expect(out.accepted).toBe(true);
    expect(out.tuned).toBe(0); // from the heap now
  });
});
