// Whether a process exists: signal 0 checks without sending anything (EPERM: it exists, owned by
// another user).
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
