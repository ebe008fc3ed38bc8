/**
 * Which FerretDB backend the local tooling (`threatmesh up`, `sandbox`, `controlplane up`) runs
 * on: asked for by --ferretdb-backend or THREATMESH_FERRETDB_BACKEND, or, by default (`auto`),
 * decided here (docs/adr/2026-12-06-million-indicators.md, addendum of 2026-12-07):
 * - state kept in the directory keeps its backend (a database made on SQLite is not silently
 *   replaced by an empty PostgreSQL one; --fresh starts over);
 * - else PostgreSQL when its binaries are installed;
 * - else SQLite, with a note that says what to install. Asking for `postgresql` where it is not
 *   installed is an error that says what to install.
 */
import { access } from 'node:fs/promises';
import { UsageError } from '../../cli/errors.ts';
import type { FerretBackend } from './instance.ts';
import { POSTGRES_MISSING, postgresBinDir } from './postgres.ts';

/** What a user may ask for. */
export type BackendRequest = FerretBackend | 'auto';

/** The values --ferretdb-backend takes. */
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'postgresql', 'sqlite'];

/** What the choice depends on. */
export interface BackendFacts {
  readonly requested: BackendRequest;
  /** Whether PostgreSQL's server binaries were found. */
  readonly postgresInstalled: boolean;
  /** The backend of the state already in the directory, if any. */
  readonly existing: FerretBackend | undefined;
}

/** The backend to run, and a line for the user when the choice is not the obvious one. */
export interface BackendDecision {
  readonly backend: FerretBackend;
  readonly note?: string;
}

/** Help text of --ferretdb-backend, the same on every command that takes it. */
export const BACKEND_FLAG_HELP = 'storage of the local FerretDB: auto (PostgreSQL when installed, else SQLite; state kept in --dir keeps its backend), postgresql or sqlite (default: $THREATMESH_FERRETDB_BACKEND, else auto)';

/**
 * The request from --ferretdb-backend (`flag`), else THREATMESH_FERRETDB_BACKEND (`fromEnv`),
 * else `auto`; a value that is neither is a usage error naming where it came from.
 */
export function backendRequest(flag: string | undefined, fromEnv: string | undefined): BackendRequest {
  const [value, source] = flag !== undefined ? [flag, '--ferretdb-backend'] : [fromEnv, 'THREATMESH_FERRETDB_BACKEND'];
  if (value === undefined || value === '') return 'auto';
  if ((BACKEND_REQUESTS as readonly string[]).includes(value)) return value as BackendRequest;
  throw new UsageError(`${source} ${JSON.stringify(value)}: use ${BACKEND_REQUESTS.join(', ')}`);
}

/** The rules of the module doc, without I/O. Throws {@link POSTGRES_MISSING} when PostgreSQL is asked for and absent. */
export function chooseBackend(f: BackendFacts): BackendDecision {
  if (f.requested === 'sqlite') return { backend: 'sqlite' };
  if (f.requested === 'postgresql') {
    if (!f.postgresInstalled) throw new Error(POSTGRES_MISSING);
    return { backend: 'postgresql' };
  }
  if (f.existing === 'sqlite') return { backend: 'sqlite', note: 'FerretDB stays on SQLite: the state in this directory was made with it (pass --fresh to start over on PostgreSQL)' };
  if (f.existing === 'postgresql') {
    if (!f.postgresInstalled) throw new Error(`the state in this directory is on PostgreSQL, which is no longer installed. ${POSTGRES_MISSING} (with --fresh to start over)`);
    return { backend: 'postgresql' };
  }
  if (f.postgresInstalled) return { backend: 'postgresql' };
  return { backend: 'sqlite', note: 'PostgreSQL is not installed: FerretDB runs on SQLite, which is slower on write-heavy work (install the postgresql package, or pass --ferretdb-backend sqlite to silence this)' };
}

/** Where a directory's existing database state would be for each backend. */
export interface BackendProbe {
  /** A PostgreSQL data directory (holds PG_VERSION once made). */
  readonly postgresData: string;
  /** FerretDB's SQLite --data-dir. */
  readonly sqliteDir: string;
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** The backend whose state is present, PostgreSQL first; undefined for a new directory. */
export async function existingBackend(p: BackendProbe): Promise<FerretBackend | undefined> {
  if (await exists(`${p.postgresData}/PG_VERSION`)) return 'postgresql';
  if (await exists(p.sqliteDir)) return 'sqlite';
  return undefined;
}

/** {@link chooseBackend} with the facts read from this machine and `probe` (none with `fresh`: the state is wiped). */
export async function resolveBackend(requested: BackendRequest, probe: BackendProbe, fresh: boolean): Promise<BackendDecision> {
  const [installed, existing] = await Promise.all([
    postgresBinDir().then((d) => d !== undefined),
    fresh ? undefined : existingBackend(probe),
  ]);
  return chooseBackend({ requested, postgresInstalled: installed, existing });
}
