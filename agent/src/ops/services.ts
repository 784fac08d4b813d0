// What an operation needs from the running system: the open repository, the clock, and (when
// the friend mesh is up) the mesh. The CLI builds these for one command; the daemon holds them.
import type { Repository } from '../repo/repository.js';
import type { Clock } from '../util/clock.js';

export interface Services {
  home: string;
  repo: Repository;
  clock: Clock;
}
