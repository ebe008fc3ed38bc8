/**
 * Runs a command with a small, real disk: a tmpfs of a fixed size mounted, in a private mount
 * namespace (`unshare --mount`; as an unprivileged user also `--user --map-root-user`), on a
 * directory the caller made, with TMPDIR pointing at it. Writes past its size fail in the
 * kernel with ENOSPC, as on a full disk. The mount is gone when the command ends; nothing is
 * left mounted on the host, even when the test is killed.
 */
import { execFile } from 'node:child_process';

/** How a command run on a small disk ended. */
export interface SmallDiskRun {
  /** Exit code; -1 when killed or when the disk could not be made (see stderr). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Names left in the disk's root after the command ended (read before the mount went away). */
  readonly left: readonly string[];
}

/** Environment of the command. */
export interface SmallDiskOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Working directory. @default the test's */
  readonly cwd?: string;
  /** Killed after this long. @default 120000 */
  readonly timeoutMs?: number;
}

const LEFT = '\nthreatmesh-smalldisk-left:';

// $0 = size, $1 = mount point, the rest = the command. The listing is read inside the namespace.
const SCRIPT = `mount -t tmpfs -o "size=$0,mode=0777" tmpfs "$1" || exit 97
d="$1"; shift
TMPDIR="$d" "$@"; rc=$?
printf '${LEFT}%s' "$(ls -A "$d" | tr '\\n' ' ')" >&2
exit $rc`;

/**
 * Runs `argv` (argv[0] the program) with a tmpfs of `bytes` mounted on `mountPoint` (an empty
 * directory) as its TMPDIR. Fails with exit code 97 and a message when no tmpfs can be mounted
 * here (needs root, CAP_SYS_ADMIN or unprivileged user namespaces).
 */
export function runOnSmallDisk(bytes: number, mountPoint: string, argv: readonly string[], opts: SmallDiskOptions): Promise<SmallDiskRun> {
  const userns = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
  const args = ['--mount', '--propagation', 'private', ...userns, '--', 'sh', '-c', SCRIPT, String(bytes), mountPoint, ...argv];
  return new Promise((resolve) => {
    execFile('unshare', args, { encoding: 'utf8', env: opts.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const at = stderr.lastIndexOf(LEFT);
      const left = at < 0 ? [] : stderr.slice(at + LEFT.length).split(' ').filter((s) => s !== '');
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      const why = code === 97 ? '\ncannot mount a tmpfs here: the small-disk test needs root, CAP_SYS_ADMIN or unprivileged user namespaces (unshare --user)' : '';
      resolve({ code, stdout, stderr: (at < 0 ? stderr : stderr.slice(0, at)) + why, left });
    });
  });
}
