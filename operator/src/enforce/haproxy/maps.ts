/**
 * Keeps one HAProxy map equal to a desired key→value set through the runtime API, without a
 * reload. Two ways:
 * - swap: `prepare map` (a new, empty version), `add map @<version>` in chunks, `commit map
 *   @<version>`: the whole map flips atomically, requests see the old or the new set, never a mix.
 *   Used when this process does not know the map's content (first sync, HAProxy restarted or
 *   changed by someone else) or when the change is large.
 * - delta: the pending key changes on the current version (`add map`, `del map`, `set map`,
 *   each atomic), so an admission or revocation does not resend a million entries.
 * Either way the result is verified with `show map` (version and entry count); a mismatch falls
 * back to a swap, so drift heals itself.
 */
import { chunkLines, parseMapList, parsePreparedVersion, RuntimeApiError, type MapInfo, type RuntimeApi } from './runtime.ts';

/** What this process knows of a map after its last successful sync: the version it wrote and the entry count there. */
export interface MapState {
  readonly version: number;
  readonly count: number;
}

/** A key's change since the last sync: its value before (undefined: absent) and now (undefined: removed). */
export interface KeyChange {
  readonly before: string | undefined;
  readonly after: string | undefined;
}

/** The outcome of one sync. */
export interface MapSyncResult {
  readonly state: MapState;
  readonly method: 'unchanged' | 'delta' | 'swap';
  readonly changed: number;
}

/** What a sync starts from: the state last written (undefined: unknown) and the key changes since. */
export interface SyncBase {
  readonly known: MapState | undefined;
  readonly pending: ReadonlyMap<string, KeyChange>;
}

/** Options of {@link syncMap}. */
export interface MapSyncOptions {
  /** Most changed keys applied as a delta; more means a versioned swap. @default 5000 */
  readonly deltaLimit?: number;
}

async function mapInfo(api: RuntimeApi, file: string): Promise<MapInfo> {
  const info = parseMapList(await api.send('show map')).find((m) => m.file === file);
  if (!info) throw new RuntimeApiError(api.address, `no map ${file} is loaded: the HAProxy configuration must use it (e.g. map_dom(${file}) or map_ip(${file})) so that HAProxy loads it at start`);
  return info;
}

/** Throws unless every answer line is empty. */
function expectQuiet(api: RuntimeApi, what: string, answer: string): void {
  const bad = answer.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (bad.length > 0) throw new RuntimeApiError(api.address, `${what}: ${bad.slice(0, 3).join(' | ')}`);
}

async function addLines(api: RuntimeApi, header: string, lines: readonly string[]): Promise<void> {
  for (const chunk of chunkLines(lines, Buffer.byteLength(header) + 3)) {
    // The payload ends with an empty line.
    expectQuiet(api, header, await api.send(`${header}\n${chunk.join('\n')}\n\n`));
  }
}

/** Sends single-line commands, several per request separated by ';' (keys are hosts and addresses: no ';'). */
async function commands(api: RuntimeApi, what: string, cmds: readonly string[]): Promise<void> {
  for (const chunk of chunkLines(cmds, 0)) expectQuiet(api, what, await api.send(chunk.join(';')));
}

async function swap(api: RuntimeApi, file: string, desired: ReadonlyMap<string, string>): Promise<MapState> {
  const version = parsePreparedVersion(await api.send(`prepare map ${file}`));
  if (version === undefined) throw new RuntimeApiError(api.address, `prepare map ${file} did not create a version`);
  await addLines(api, `add map @${version} ${file} <<`, [...desired].map(([k, v]) => `${k} ${v}`));
  expectQuiet(api, `commit map @${version} ${file}`, await api.send(`commit map @${version} ${file}`));
  const after = await mapInfo(api, file);
  if (after.currentVersion !== version || after.entries !== desired.size) {
    throw new RuntimeApiError(api.address, `after commit of version ${version} map ${file} is at version ${after.currentVersion} with ${after.entries} entries, expected ${desired.size}: another writer changed it; retrying`);
  }
  return { version, count: desired.size };
}

async function delta(api: RuntimeApi, file: string, pending: ReadonlyMap<string, KeyChange>): Promise<number> {
  const adds: string[] = [];
  const sets: string[] = [];
  const dels: string[] = [];
  let net = 0;
  for (const [k, c] of pending) {
    if (c.before === c.after) continue;
    if (c.before === undefined) adds.push(`${k} ${c.after ?? ''}`);
    else if (c.after === undefined) dels.push(`del map ${file} ${k}`);
    else sets.push(`set map ${file} ${k} ${c.after}`);
    net += c.before === undefined ? 1 : c.after === undefined ? -1 : 0;
  }
  await commands(api, `del map ${file}`, dels);
  await commands(api, `set map ${file}`, sets);
  await addLines(api, `add map ${file} <<`, adds);
  return net;
}

/**
 * Makes map `file` of the HAProxy behind `api` hold `desired`, given what this process last
 * wrote there (`since.known`) and the key changes since (`since.pending`). Throws
 * RuntimeApiError on failure: the caller then forgets `known` and `pending` (the next sync swaps).
 */
export async function syncMap(api: RuntimeApi, file: string, desired: ReadonlyMap<string, string>, since: SyncBase, opts: MapSyncOptions = {}): Promise<MapSyncResult> {
  const { known, pending } = since;
  const info = await mapInfo(api, file);
  const trusted = known !== undefined && info.currentVersion === known.version && info.entries === known.count;
  if (!trusted || pending.size > (opts.deltaLimit ?? 5000)) return { state: await swap(api, file, desired), method: 'swap', changed: desired.size };
  if (pending.size === 0) return { state: known, method: 'unchanged', changed: 0 };
  const net = await delta(api, file, pending);
  const after = await mapInfo(api, file);
  if (after.currentVersion !== known.version || after.entries !== known.count + net || after.entries !== desired.size) {
    return { state: await swap(api, file, desired), method: 'swap', changed: desired.size };
  }
  return { state: { version: known.version, count: after.entries }, method: 'delta', changed: pending.size };
}
