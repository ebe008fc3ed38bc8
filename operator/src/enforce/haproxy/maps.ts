/**
 * Keeps one HAProxy map equal to a desired key→value set through the runtime API, without a
 * reload. Two ways:
 * - swap: `prepare map` (a new, empty version), `add map @<version>` in chunks, `commit map
 *   @<version>`: the whole map flips atomically, requests see the old or the new set, never a mix.
 *   Used when this process does not know the map's content (first sync, HAProxy restarted or
 *   changed by someone else) or when the change is large.
 * - delta: `del map` / `add map` on the current version for a few changes (each atomic), so an
 *   admission or revocation does not resend a million entries.
 * Either way the result is verified with `show map` (version and entry count); a mismatch falls
 * back to a swap, so drift heals itself.
 */
import { chunkLines, parseMapList, parsePreparedVersion, RuntimeApiError, type MapInfo, type RuntimeApi } from './runtime.ts';

/** What this process knows a map holds after its last successful sync (`entries` is the caller's desired Map, never mutated). */
export interface MapState {
  readonly version: number;
  readonly entries: ReadonlyMap<string, string>;
}

/** The outcome of one sync. */
export interface MapSyncResult {
  readonly state: MapState;
  readonly method: 'unchanged' | 'delta' | 'swap';
  readonly added: number;
  readonly removed: number;
}

/** Options of {@link syncMap}. */
export interface MapSyncOptions {
  /** Most changed keys applied as a delta; more means a versioned swap. @default 5000 */
  readonly deltaLimit?: number;
}

const KEY_NOT_FOUND = 'Key not found.';

async function mapInfo(api: RuntimeApi, file: string): Promise<MapInfo> {
  const info = parseMapList(await api.send('show map')).find((m) => m.file === file);
  if (!info) throw new RuntimeApiError(api.address, `no map ${file} is loaded: the HAProxy configuration must use it (e.g. map_dom(${file}) or map_ip(${file})) so that HAProxy loads it at start`);
  return info;
}

/** Throws unless every non-empty answer line is one of `ok`. */
function expectQuiet(api: RuntimeApi, what: string, answer: string, ok: readonly string[] = []): void {
  const bad = answer.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !ok.includes(l));
  if (bad.length > 0) throw new RuntimeApiError(api.address, `${what}: ${bad.slice(0, 3).join(' | ')}`);
}

async function addLines(api: RuntimeApi, header: string, lines: readonly string[]): Promise<void> {
  for (const chunk of chunkLines(lines, Buffer.byteLength(header) + 3)) {
    // The payload ends with an empty line.
    expectQuiet(api, header, await api.send(`${header}\n${chunk.join('\n')}\n\n`));
  }
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
  return { version, entries: desired };
}

function diff(known: ReadonlyMap<string, string>, desired: ReadonlyMap<string, string>): { adds: string[]; dels: string[] } {
  const adds: string[] = [];
  const dels: string[] = [];
  for (const [k, v] of desired) {
    const have = known.get(k);
    if (have === v) continue;
    if (have !== undefined) dels.push(k);
    adds.push(`${k} ${v}`);
  }
  for (const k of known.keys()) if (!desired.has(k)) dels.push(k);
  return { adds, dels };
}

async function delKeys(api: RuntimeApi, file: string, keys: readonly string[]): Promise<void> {
  // Several commands on one line, separated by ';' (keys are hosts and addresses: no ';').
  const cmds = keys.map((k) => `del map ${file} ${k}`);
  for (const chunk of chunkLines(cmds, 0)) expectQuiet(api, `del map ${file}`, await api.send(chunk.join(';')), [KEY_NOT_FOUND]);
}

/** Makes map `file` of the HAProxy behind `api` hold exactly `desired`. Throws RuntimeApiError on failure (the caller forgets `known`). */
export async function syncMap(api: RuntimeApi, file: string, desired: ReadonlyMap<string, string>, known: MapState | undefined, opts: MapSyncOptions = {}): Promise<MapSyncResult> {
  const info = await mapInfo(api, file);
  const trusted = known !== undefined && info.currentVersion === known.version && info.entries === known.entries.size;
  if (!trusted) return { state: await swap(api, file, desired), method: 'swap', added: desired.size, removed: info.entries };
  // The caller passes the same Map object while nothing changed: no diff over a million keys per poll.
  if (desired === known.entries) return { state: known, method: 'unchanged', added: 0, removed: 0 };
  const { adds, dels } = diff(known.entries, desired);
  if (adds.length === 0 && dels.length === 0) return { state: known, method: 'unchanged', added: 0, removed: 0 };
  if (adds.length + dels.length > (opts.deltaLimit ?? 5000)) return { state: await swap(api, file, desired), method: 'swap', added: desired.size, removed: known.entries.size };
  await delKeys(api, file, dels);
  await addLines(api, `add map ${file} <<`, adds);
  const after = await mapInfo(api, file);
  if (after.currentVersion !== known.version || after.entries !== desired.size) return { state: await swap(api, file, desired), method: 'swap', added: desired.size, removed: after.entries };
  return { state: { version: known.version, entries: desired }, method: 'delta', added: adds.length, removed: dels.length };
}
