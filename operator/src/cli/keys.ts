/**
 * `threatmesh keys generate [--out DIR] [--json] [--force]`: creates a partner's Ed25519 key
 * pair as DIR/private.pem (PKCS#8, mode 0600) and DIR/public.pem (SPKI), and prints the key id
 * and the raw base64 public key that go into the PartnerNode object.
 */
import { access, chmod, writeFile } from 'node:fs/promises';
import { makeDirs } from '../mkdirs.ts';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { generateKeyPair } from '../domain/signature.ts';

/** What `keys generate` created. */
export interface GeneratedKeyFiles {
  readonly keyId: string;
  /** Standard base64 of the 32-byte raw public key. */
  readonly publicKey: string;
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
}

interface GenerateOptions {
  readonly out: string;
  readonly json: boolean;
  readonly force: boolean;
}

/** Registers `keys` and its `generate` subcommand on `program`. */
export function registerKeys(program: Command, env: CliEnv, log: Logger): void {
  const keys = program.command('keys').description('manage partner Ed25519 signing keys');
  keys.command('generate')
    .description('generate an Ed25519 key pair: writes DIR/private.pem (mode 0600) and DIR/public.pem, prints the key id and raw base64 public key')
    .option('-o, --out <dir>', 'directory for private.pem and public.pem (created if missing)', '.')
    .option('--json', 'print the result as one JSON object', false)
    .option('--force', 'overwrite existing key files', false)
    .action(async (opts: GenerateOptions) => {
      const result = await generateKeyFiles(opts.out, opts.force);
      log.debug('generated key pair', { keyId: result.keyId, dir: resolve(opts.out) });
      env.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatResult(result));
    });
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
