/**
 * `threatmesh keys generate [--out DIR] [--output text|json|yaml] [--json] [--force]`: creates a partner's Ed25519 key
 * pair as DIR/private.pem (PKCS#8, mode 0600) and DIR/public.pem (SPKI), and prints the key id
 * and the raw base64 public key that go into the PartnerNode object.
 *
 * `threatmesh keys rotate --partner-node FILE [--dir DIR] (--overlap D | --compromised-at T)`:
 * a new key pair in DIR (the old private key kept as private.<key id>.retired.pem) and the
 * PartnerNode file rewritten with the new spec.publicKey and the old key under spec.retiredKeys,
 * ready to commit to every partner's GitOps repository (docs/trust-model.md "Key rotation").
 */
import { access, chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { makeDirs } from '../mkdirs.ts';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { addOutputFlags, emit, outputFormat, type OutputFlags, type OutputSpec } from './output.ts';
import { generateKeyPair, SigningKey } from '../domain/signature.ts';
import { stringify } from 'yaml';
import { rotatedPartnerNode } from '../api/partners.ts';
import type { PartnerNode } from '../api/types.ts';
import { parseDuration } from '../controllers/schedule.ts';
import { parseManifests } from '../runtime/manifest.ts';

/** What `keys generate` created. */
export interface GeneratedKeyFiles {
  readonly keyId: string;
  /** Standard base64 of the 32-byte raw public key. */
  readonly publicKey: string;
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
}

interface GenerateOptions extends OutputFlags {
  readonly out: string;
  readonly force: boolean;
}

/** `keys generate -o DIR` predates -o as the output form: there it stays --out. */
const GENERATE_OUTPUT: OutputSpec = { formats: ['text', 'json', 'yaml'], short: false };
const ROTATE_OUTPUT: OutputSpec = { formats: ['text', 'json', 'yaml'] };

/** Registers `keys` and its `generate` subcommand on `program`. */
export function registerKeys(program: Command, env: CliEnv, log: Logger): void {
  const keys = program.command('keys').description('manage partner Ed25519 signing keys');
  addOutputFlags(keys.command('generate'), GENERATE_OUTPUT)
    .description('generate an Ed25519 key pair: writes DIR/private.pem (mode 0600) and DIR/public.pem, prints the key id and raw base64 public key')
    .option('-o, --out <dir>', 'directory for private.pem and public.pem (created if missing); -o means --out here, so the output form is --output', '.')
    .option('--force', 'overwrite existing key files', false)
    .action(async (opts: GenerateOptions) => {
      const result = await generateKeyFiles(opts.out, opts.force);
      log.debug('generated key pair', { keyId: result.keyId, dir: resolve(opts.out) });
      emit(env, outputFormat(opts, GENERATE_OUTPUT), { value: result, human: () => formatResult(result) });
    });
  addOutputFlags(keys.command('rotate'), ROTATE_OUTPUT)
    .description('rotate a signing key: a new key pair in --dir (the old private key kept aside), and --partner-node rewritten with the new public key and the old one retired; apply that PartnerNode in every cluster, then restart with the new key')
    .requiredOption('--partner-node <file>', 'this party\'s PartnerNode YAML (as in the GitOps repository); rewritten in place')
    .option('--dir <dir>', 'directory of private.pem and public.pem', '.')
    .option('--overlap <duration>', 'how long signatures by the old key still count (votes and heads in flight while the process restarts)', '1h')
    .option('--compromised-at <time>', 'the key leaked: signatures by it dated at or after this ISO 8601 time are refused (instead of --overlap)')
    .action(async (opts: RotateOptions) => {
      const result = await rotateKeyFiles(opts, new Date());
      log.info('rotated key', { from: result.retiredKeyId, to: result.keyId, validUntil: result.validUntil });
      emit(env, outputFormat(opts, ROTATE_OUTPUT), { value: result, human: () => formatRotation(result) });
    });
}

interface RotateOptions extends OutputFlags {
  readonly partnerNode: string;
  readonly dir: string;
  readonly overlap: string;
  readonly compromisedAt?: string;
}

/** What `keys rotate` did. */
export interface RotatedKeyFiles extends GeneratedKeyFiles {
  /** Key id of the key now retired, and where its private key was kept. */
  readonly retiredKeyId: string;
  readonly retiredPrivateKeyPath: string;
  /** Signatures by the retired key dated before this still verify. */
  readonly validUntil: string;
  readonly partnerNodePath: string;
}

/**
 * Rotates the key in `opts.dir` for the PartnerNode in `opts.partnerNode`: checks that the
 * private key is the one the PartnerNode publishes, keeps it as private.<key id>.retired.pem,
 * writes a new pair and rewrites the PartnerNode (api/partners.ts rotatedPartnerNode).
 */
export async function rotateKeyFiles(opts: Omit<RotateOptions, 'json'>, now: Date): Promise<RotatedKeyFiles> {
  const validUntil = opts.compromisedAt !== undefined ? compromiseTime(opts.compromisedAt) : new Date(now.getTime() + parseDuration(opts.overlap));
  const pn = await readPartnerNode(opts.partnerNode);
  const privateKeyPath = join(opts.dir, 'private.pem');
  const current = SigningKey.fromPem(await readFile(privateKeyPath, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read ${privateKeyPath} (the key to rotate): ${err instanceof Error ? err.message : String(err)}; give --dir the directory of the current private.pem`, { cause: err });
  }));
  if (current.publicKey.toRawBase64() !== pn.spec.publicKey) throw new Error(`${privateKeyPath} is not the key PartnerNode ${pn.metadata.name} publishes (spec.publicKey ${pn.spec.publicKey}); rotate the key the PartnerNode names`);
  const retiredPrivateKeyPath = join(opts.dir, `private.${current.id}.retired.pem`);
  await rename(privateKeyPath, retiredPrivateKeyPath);
  const fresh = await generateKeyFiles(opts.dir, true);
  const rotated = rotatedPartnerNode(pn, SigningKey.fromPem(await readFile(fresh.privateKeyPath, 'utf8')).publicKey, validUntil);
  await writeFile(opts.partnerNode, stringify(rotated));
  return { ...fresh, retiredKeyId: current.id, retiredPrivateKeyPath, validUntil: validUntil.toISOString(), partnerNodePath: opts.partnerNode };
}

function compromiseTime(text: string): Date {
  const t = new Date(text);
  if (!Number.isFinite(t.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(text)) throw new Error(`--compromised-at ${JSON.stringify(text)} is not an ISO 8601 time; give the earliest time the key may have leaked, e.g. 2026-12-06T09:00:00Z`);
  return t;
}

async function readPartnerNode(path: string): Promise<PartnerNode> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new Error(`cannot read --partner-node ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  const objs = parseManifests(text, path);
  const pn = objs.find((o) => o.kind === 'PartnerNode') as PartnerNode | undefined;
  if (objs.length !== 1 || pn?.spec?.publicKey === undefined) throw new Error(`--partner-node ${path} must hold exactly one PartnerNode with spec.publicKey`);
  return pn;
}

function formatRotation(r: RotatedKeyFiles): string {
  return [
    `new key id:     ${r.keyId}`,
    `new public key: ${r.publicKey}`,
    `retired key ${r.retiredKeyId} (private key kept as ${r.retiredPrivateKeyPath}); its signatures dated before ${r.validUntil} still count`,
    `rewrote ${r.partnerNodePath}. Next: apply it in every partner's cluster (commit it to each GitOps repository), then restart this party with --signing-key ${r.privateKeyPath} before ${r.validUntil}`,
    '',
  ].join('\n');
}

/**
 * Generates a key pair into `dir`: private.pem (mode 0600) and public.pem (mode 0644).
 * Refuses to overwrite either file unless `force` is set, so a key in use is never lost.
 */
export async function generateKeyFiles(dir: string, force: boolean): Promise<GeneratedKeyFiles> {
  const privateKeyPath = join(dir, 'private.pem');
  const publicKeyPath = join(dir, 'public.pem');
  if (!force) {
    for (const path of [privateKeyPath, publicKeyPath]) {
      if (await exists(path)) throw new Error(`${path} already exists; refusing to overwrite a key (choose another --out or pass --force)`);
    }
  }
  const { signingKey, publicKey, keyId } = generateKeyPair();
  await makeDirs(dir, 0o700).catch((err: Error) => {
    throw new Error(`--out ${dir}: cannot create the directory (${err.message}); choose a writable place`, { cause: err });
  });
  await writeFile(privateKeyPath, signingKey.toPem(), { mode: 0o600, flag: force ? 'w' : 'wx' });
  // The mode option only applies when the file is created; an overwritten file keeps its old mode.
  await chmod(privateKeyPath, 0o600);
  await writeFile(publicKeyPath, publicKey.toPem(), { mode: 0o644, flag: force ? 'w' : 'wx' });
  return { keyId, publicKey: publicKey.toRawBase64(), privateKeyPath, publicKeyPath };
}

function formatResult(r: GeneratedKeyFiles): string {
  return [
    `key id:     ${r.keyId}`,
    `public key: ${r.publicKey}`,
    `wrote ${r.privateKeyPath} (mode 0600, keep it secret) and ${r.publicKeyPath}`,
    '',
  ].join('\n');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
