/**
 * `threatmesh gitops render (--partner NAME | --sequencer NAME) [--values FILE] --out DIR`:
 * writes a party's GitOps repository with the cdk8s app (cdk8s/): plain manifests per component,
 * the ThreatMesh CRDs, the Argo CD AppProject and Applications, the resolved values, a README;
 * then commits it to a git repository in DIR (created when absent). Rendering again into the
 * same DIR replaces the rendered files and commits the difference, so a review is a git diff.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { makeDirs } from '../mkdirs.ts';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { addOutputFlags, emit, outputFormat, type OutputFlags, type OutputSpec } from './output.ts';
import { renderRepository } from '../../../cdk8s/repo.ts';
import { parseValues, resolveValues, type Values } from '../../../cdk8s/values.ts';

const run = promisify(execFile);

/** Options of `gitops render` as commander parses them. */
export interface GitopsRenderFlags extends OutputFlags {
  readonly partner?: string;
  readonly sequencer?: string;
  readonly values?: string;
  readonly out?: string;
  readonly git: boolean;
}

const OUTPUT: OutputSpec = { formats: ['text', 'json', 'yaml'] };

/** What a render wrote. */
export interface RenderResult {
  readonly out: string;
  readonly role: Values['role'];
  readonly partnerId: string;
  readonly files: number;
  readonly components: readonly string[];
  /** The commit made, or undefined with --no-git or when nothing changed. */
  readonly commit?: string;
}

/** The values of a render: the file's (or the defaults) with role and id from the flags. */
export async function renderValues(flags: GitopsRenderFlags): Promise<Values> {
  if ((flags.partner === undefined) === (flags.sequencer === undefined)) throw new UsageError('give exactly one of --partner NAME (a partner\'s repository) or --sequencer NAME (the network sequencer\'s)');
  const role = flags.partner !== undefined ? 'partner' : 'sequencer';
  const id = flags.partner ?? flags.sequencer ?? '';
  let fromFile: Values | undefined;
  if (flags.values !== undefined) {
    const text = await readFile(flags.values, 'utf8').catch((err: unknown) => {
      throw new Error(`--values ${flags.values}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    });
    fromFile = parseValues(text, `--values ${flags.values}`);
  }
  return resolveValues({ ...fromFile, role, partnerId: id }, flags.values !== undefined ? `--values ${flags.values}` : `--${role} ${id}`);
}

async function prepareOut(out: string): Promise<void> {
  const entries = await readdir(out).catch(() => [] as string[]);
  const visible = entries.filter((e) => e !== '.git');
  if (visible.length > 0 && !(visible.includes('values.yaml') && visible.includes('argocd'))) {
    throw new Error(`--out ${out} is not empty and is not a rendered ThreatMesh repository (no values.yaml and argocd/): choose an empty or new folder`);
  }
  // A component switched off must disappear from the repository, so start from nothing but .git.
  for (const e of visible) await rm(join(out, e), { recursive: true, force: true });
}

async function git(out: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run('git', ['-C', out, ...args]);
    return stdout.trim();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('git is not installed: install git, or pass --no-git to write the files without a repository', { cause: err });
    throw new Error(`git ${args.join(' ')} in ${out} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

async function commit(out: string, v: Values): Promise<string | undefined> {
  await git(out, ['init', '-q', '-b', 'main']);
  await git(out, ['add', '-A']);
  if ((await git(out, ['status', '--porcelain'])) === '') return undefined;
  const who = ['-c', 'user.name=threatmesh gitops render', '-c', 'user.email=gitops@threatmesh.invalid'];
  await git(out, [...who, 'commit', '-q', '-m', `threatmesh gitops render: ${v.role} ${v.partnerId}`]);
  return git(out, ['rev-parse', 'HEAD']);
}

/** Renders into flags.out (checked before anything is written) and commits unless --no-git. */
export async function gitopsRender(flags: GitopsRenderFlags): Promise<RenderResult> {
  if (flags.out === undefined || flags.out === '') throw new UsageError('--out DIR is required: the folder of the GitOps repository to write');
  const values = await renderValues(flags);
  const out = resolve(flags.out);
  const files = renderRepository(values);
  await makeDirs(out).catch((err: Error) => {
    throw new Error(`--out ${out}: cannot create the directory (${err.message}); choose a writable place`, { cause: err });
  });
  await prepareOut(out);
  for (const [rel, text] of files) {
    await mkdir(dirname(join(out, rel)), { recursive: true });
    await writeFile(join(out, rel), text);
  }
  const components = [...new Set([...files.keys()].filter((k) => k.includes('/')).map((k) => k.split('/')[0] ?? ''))].sort();
  const sha = flags.git ? await commit(out, values) : undefined;
  return { out, role: values.role, partnerId: values.partnerId, files: files.size, components, ...(sha ? { commit: sha } : {}) };
}

/** Registers `threatmesh gitops render`. */
export function registerGitops(program: Command, env: CliEnv, log: Logger): void {
  const gitops = program.command('gitops').description('GitOps repositories of a ThreatMesh installation (cdk8s app)');
  addOutputFlags(gitops.command('render'), OUTPUT)
    .description('write a partner\'s (or the sequencer\'s) GitOps repository: manifests per component, CRDs, Argo CD AppProject and Applications, committed to git')
    .option('--partner <name>', 'render a partner with this partnerId')
    .option('--sequencer <name>', 'render the network sequencer with this partnerId')
    .option('--values <file>', 'YAML values (the Helm chart\'s; schema: charts/threatmesh/values.schema.json); default: the chart defaults')
    .option('--out <dir>', 'folder of the repository (created; re-rendering replaces the rendered files and commits the change)')
    .option('--no-git', 'write the files only, no git repository')
    .action(async (flags: GitopsRenderFlags) => {
      const r = await gitopsRender(flags);
      log.debug('rendered gitops repository', { out: r.out, files: r.files });
      emit(env, outputFormat(flags, OUTPUT), { value: r, human: () => `rendered ${r.role} ${r.partnerId}: ${r.files} files in ${r.out} (${r.components.join(', ')})${r.commit ? `; commit ${r.commit.slice(0, 12)}` : flags.git ? '; nothing changed' : ''}\nbootstrap: push it to the values' gitops.repoURL, then kubectl apply -f ${join(r.out, 'argocd')}/\n` });
    });
}
