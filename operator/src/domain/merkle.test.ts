import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { EMPTY_ROOT, MerkleLog, MerkleRangeError, leafHash, nodeHash, verifyConsistency, verifyInclusion } from './merkle.ts';

// Known answers: the RFC 6962 reference tree of 8 leaves used by the Certificate Transparency
// projects (transparency-dev/merkle testonly: LeafInputs, NodeHashes, RootHashes and the
// inclusion/consistency vectors of its reference and verifier tests).
const LEAF_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const LEAF_HASHES = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
  '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
  '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
  'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
  'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
  '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
];
const LEVEL1 = [
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
  '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
  'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
];
const LEVEL2 = ['d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'];
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: Array<{ index: number; size: number; proof: string[] }> = [
  { index: 0, size: 1, proof: [] },
  { index: 0, size: 2, proof: [LEAF_HASHES[1]!] },
  { index: 1, size: 2, proof: [LEAF_HASHES[0]!] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  { index: 1, size: 5, proof: [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  ] },
  { index: 0, size: 8, proof: [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ] },
  { index: 5, size: 8, proof: [
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  ] },
];
const CONSISTENCY: Array<{ size1: number; size2: number; proof: string[] }> = [
  { size1: 1, size2: 1, proof: [] },
  { size1: 1, size2: 8, proof: [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ] },
  { size1: 6, size2: 8, proof: [
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  ] },
  { size1: 2, size2: 5, proof: [
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  ] },
  { size1: 6, size2: 7, proof: [
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  ] },
];
const SOME_HASH = 'abacaba000000000000000000000000000000000000000000060061e00123456';

function referenceLog(): MerkleLog {
  const log = new MerkleLog();
  for (const input of LEAF_INPUTS) log.append(Buffer.from(input, 'hex'));
  return log;
}

describe('RFC 6962 reference vectors', () => {
  test('leaf hashes', () => {
    assert.deepEqual(LEAF_INPUTS.map((i) => leafHash(Buffer.from(i, 'hex'))), LEAF_HASHES);
  });
  test('complete subtree (node) hashes', () => {
    assert.deepEqual([0, 2, 4, 6].map((i) => nodeHash(LEAF_HASHES[i]!, LEAF_HASHES[i + 1]!)), LEVEL1);
    assert.deepEqual([0, 2].map((i) => nodeHash(LEVEL1[i]!, LEVEL1[i + 1]!)), LEVEL2);
  });
  test('empty root is SHA-256 of the empty string', () => {
    assert.equal(EMPTY_ROOT, createHash('sha256').digest('hex'));
    assert.equal(new MerkleLog().rootHash(), EMPTY_ROOT);
  });
  for (let size = 0; size <= 8; size += 1) {
    test(`root of the first ${size} leaves, grown leaf by leaf and as a prefix of 8`, () => {
      const log = new MerkleLog();
      for (const input of LEAF_INPUTS.slice(0, size)) log.append(Buffer.from(input, 'hex'));
      assert.equal(log.rootHash(), ROOTS[size]);
      assert.equal(referenceLog().rootHash(size), ROOTS[size]);
    });
  }
  for (const v of INCLUSION) {
    test(`inclusion proof index ${v.index} size ${v.size}`, () => {
      const log = referenceLog();
      assert.deepEqual(log.inclusionProof(v.index, v.size), v.proof);
      assert.equal(verifyInclusion(LEAF_HASHES[v.index]!, v.index, v.size, v.proof, ROOTS[v.size]!), true);
      for (const probe of tamperedInclusion(LEAF_HASHES[v.index]!, v.index, v.size, v.proof, ROOTS[v.size]!)) {
        assert.equal(verifyInclusion(...probe.args), false, probe.name);
      }
    });
  }
  for (const v of CONSISTENCY) {
    test(`consistency proof ${v.size1} -> ${v.size2}`, () => {
      const log = referenceLog();
      assert.deepEqual(log.consistencyProof(v.size1, v.size2), v.proof);
      assert.equal(verifyConsistency(v.size1, v.size2, v.proof, ROOTS[v.size1]!, ROOTS[v.size2]!), true);
      if (v.proof.length === 0) return;
      for (const probe of tamperedConsistency(v.size1, v.size2, v.proof, ROOTS[v.size1]!, ROOTS[v.size2]!)) {
        assert.equal(verifyConsistency(...probe.args), false, probe.name);
      }
    });
  }
});

describe('edge cases of verification', () => {
  const cases: Array<[string, boolean, () => boolean]> = [
    ['single leaf: root equals leaf, empty proof', true, () => verifyInclusion(LEAF_HASHES[0]!, 0, 1, [], ROOTS[1]!)],
    ['index 0 in the empty tree', false, () => verifyInclusion(LEAF_HASHES[0]!, 0, 0, [], EMPTY_ROOT)],
    ['index equal to size', false, () => verifyInclusion(LEAF_HASHES[0]!, 1, 1, [], ROOTS[1]!)],
    ['negative index', false, () => verifyInclusion(LEAF_HASHES[0]!, -1, 1, [], ROOTS[1]!)],
    ['fractional size', false, () => verifyInclusion(LEAF_HASHES[0]!, 0, 1.5, [], ROOTS[1]!)],
    ['uppercase root hex', false, () => verifyInclusion(LEAF_HASHES[0]!, 0, 1, [], ROOTS[1]!.toUpperCase())],
    ['short leaf hash', false, () => verifyInclusion('abcd', 0, 1, [], ROOTS[1]!)],
    ['proof is not an array', false, () => verifyInclusion(LEAF_HASHES[0]!, 0, 2, 'x' as unknown as string[], ROOTS[2]!)],
    ['proof with a non-hex element', false, () => verifyInclusion(LEAF_HASHES[0]!, 0, 2, ['zz'], ROOTS[2]!)],
    ['consistency 0 -> 0, equal roots', true, () => verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)],
    ['consistency 0 -> 0, different roots', false, () => verifyConsistency(0, 0, [], EMPTY_ROOT, ROOTS[1]!)],
    ['consistency 1 -> 1, different roots', false, () => verifyConsistency(1, 1, [], ROOTS[1]!, ROOTS[2]!)],
    ['consistency 1 -> 1, non-empty proof', false, () => verifyConsistency(1, 1, [EMPTY_ROOT], ROOTS[1]!, ROOTS[1]!)],
    ['consistency 0 -> 8 from the empty root', true, () => verifyConsistency(0, 8, [], EMPTY_ROOT, ROOTS[8]!)],
    ['consistency 0 -> 8 from another root', false, () => verifyConsistency(0, 8, [], ROOTS[1]!, ROOTS[8]!)],
    ['consistency 0 -> 1 with a non-empty proof', false, () => verifyConsistency(0, 1, [EMPTY_ROOT], EMPTY_ROOT, ROOTS[1]!)],
    ['consistency 2 -> 1 (log shrank)', false, () => verifyConsistency(2, 1, [], ROOTS[2]!, ROOTS[1]!)],
    ['consistency 1 -> 2 with an empty proof', false, () => verifyConsistency(1, 2, [], ROOTS[1]!, ROOTS[2]!)],
  ];
  for (const [name, expected, run] of cases) {
    test(`${name}: ${expected}`, () => assert.equal(run(), expected));
  }
});

describe('MerkleLog input checks', () => {
  const log = referenceLog();
  const bad: Array<[string, () => unknown]> = [
    ['root of a size beyond the log', () => log.rootHash(9)],
    ['inclusion index = size', () => log.inclusionProof(8, 8)],
    ['inclusion index beyond a smaller size', () => log.inclusionProof(5, 4)],
    ['inclusion size beyond the log', () => log.inclusionProof(0, 9)],
    ['negative index', () => log.inclusionProof(-1)],
    ['fractional index', () => log.inclusionProof(0.5)],
    ['consistency oldSize > newSize', () => log.consistencyProof(5, 4)],
    ['consistency newSize beyond the log', () => log.consistencyProof(1, 9)],
    ['leaf hash of a missing index', () => log.leafHash(8)],
  ];
  for (const [name, fn] of bad) {
    test(name, () => assert.throws(fn, MerkleRangeError));
  }
  test('appendLeafHash refuses a non-hash', () => {
    assert.throws(() => new MerkleLog().appendLeafHash('xyz'), TypeError);
  });
  test('appendLeafHash and append agree; strings are UTF-8', () => {
    const a = new MerkleLog();
    const b = new MerkleLog();
    a.append('é');
    b.appendLeafHash(leafHash(Buffer.from('é', 'utf8')));
    assert.equal(a.rootHash(), b.rootHash());
    assert.equal(a.leafHash(0), b.leafHash(0));
  });
  test('append returns consecutive indexes', () => {
    const l = new MerkleLog();
    assert.deepEqual([l.append('a'), l.append('b'), l.append('c')], [0, 1, 2]);
    assert.equal(l.size, 3);
  });
});

describe('against the RFC definitions, exhaustively for small trees', () => {
  const leaves = Array.from({ length: 40 }, (_, i) => leafHash(`leaf ${i}`));
  const log = new MerkleLog();
  for (const h of leaves) log.appendLeafHash(h);
  test('every root, inclusion proof and consistency proof up to 40 leaves', () => {
    for (let n = 0; n <= leaves.length; n += 1) {
      const root = refRoot(leaves.slice(0, n));
      assert.equal(log.rootHash(n), root, `root ${n}`);
      for (let m = 0; m < n; m += 1) {
        const proof = log.inclusionProof(m, n);
        assert.deepEqual(proof, refPath(m, leaves.slice(0, n)), `path ${m}/${n}`);
        assert.ok(verifyInclusion(leaves[m]!, m, n, proof, root), `inclusion ${m}/${n}`);
      }
      for (let m = 1; m <= n; m += 1) {
        const proof = log.consistencyProof(m, n);
        assert.deepEqual(proof, refProof(m, leaves.slice(0, n), true), `proof ${m}->${n}`);
        assert.ok(verifyConsistency(m, n, proof, log.rootHash(m), root), `consistency ${m}->${n}`);
      }
    }
  });
});

describe('property tests: random trees', () => {
  // Leaves are made distinct: with two equal leaves, a proof for one is a valid proof for the other.
  const distinct = (leaves: Uint8Array[]): Buffer[] => leaves.map((l, i) => Buffer.concat([Buffer.from(`${i}|`), l]));
  const treeAndIndex = fc.integer({ min: 1, max: 600 }).chain((size) =>
    fc.record({
      leaves: fc.array(fc.uint8Array({ maxLength: 24 }), { minLength: size, maxLength: size }).map(distinct),
      index: fc.nat({ max: size - 1 }),
      extra: fc.nat({ max: 300 }),
    }));

  test('every inclusion proof verifies and every tampered one fails', () => {
    fc.assert(fc.property(treeAndIndex, ({ leaves, index, extra }) => {
      const log = new MerkleLog();
      for (const l of leaves) log.append(l);
      for (let i = 0; i < extra; i += 1) log.append(`extra ${i}`);
      const size = leaves.length;
      const root = log.rootHash(size);
      const leaf = leafHash(leaves[index]!);
      const proof = log.inclusionProof(index, size);
      assert.ok(verifyInclusion(leaf, index, size, proof, root));
      for (const probe of tamperedInclusion(leaf, index, size, proof, root)) {
        assert.equal(verifyInclusion(...probe.args), false, probe.name);
      }
    }), { numRuns: 150 });
  });

  test('every consistency proof verifies and every tampered one fails', () => {
    fc.assert(fc.property(treeAndIndex, ({ leaves, index, extra }) => {
      const log = new MerkleLog();
      for (const l of leaves) log.append(l);
      for (let i = 0; i < extra; i += 1) log.append(`extra ${i}`);
      const size1 = index + 1;
      const size2 = leaves.length + extra;
      const [root1, root2] = [log.rootHash(size1), log.rootHash(size2)];
      const proof = log.consistencyProof(size1, size2);
      assert.ok(verifyConsistency(size1, size2, proof, root1, root2));
      if (size1 === size2) return;
      for (const probe of tamperedConsistency(size1, size2, proof, root1, root2)) {
        assert.equal(verifyConsistency(...probe.args), false, probe.name);
      }
    }), { numRuns: 150 });
  });
});

type InclusionArgs = Parameters<typeof verifyInclusion>;
type ConsistencyArgs = Parameters<typeof verifyConsistency>;

// The corruptions the transparency-dev verifier tests apply: wrong index, wrong height, wrong
// leaf or root, garbage before/after, a flipped bit in each element, a removed or inserted element.
function tamperedInclusion(leaf: string, index: number, size: number, proof: string[], root: string): Array<{ name: string; args: InclusionArgs }> {
  const probes: Array<{ name: string; args: InclusionArgs }> = [
    { name: 'index - 1', args: [leaf, index - 1, size, proof, root] },
    { name: 'index + 1', args: [leaf, index + 1, size, proof, root] },
    { name: 'index ^ 2', args: [leaf, index ^ 2, size, proof, root] },
    { name: 'size * 2', args: [leaf, index, size * 2, proof, root] },
    { name: 'size / 2', args: [leaf, index, Math.floor(size / 2), proof, root] },
    { name: 'wrong leaf', args: [leafHash('WrongLeaf'), index, size, proof, root] },
    { name: 'empty root', args: [leaf, index, size, proof, EMPTY_ROOT] },
    { name: 'random root', args: [leaf, index, size, proof, SOME_HASH] },
    { name: 'trailing root', args: [leaf, index, size, [...proof, root], root] },
    { name: 'preceding root', args: [leaf, index, size, [root, ...proof], root] },
    { name: 'trailing garbage', args: [leaf, index, size, [...proof, ''], root] },
  ];
  proof.forEach((_, i) => probes.push({ name: `flipped bit in proof[${i}]`, args: [leaf, index, size, flip(proof, i), root] }));
  if (proof.length > 0) probes.push({ name: 'removed last element', args: [leaf, index, size, proof.slice(0, -1), root] });
  if (proof.length > 1) probes.push({ name: 'inserted element', args: [leaf, index, size, [proof[0]!, SOME_HASH, ...proof.slice(1)], root] });
  return probes;
}

function tamperedConsistency(size1: number, size2: number, proof: string[], root1: string, root2: string): Array<{ name: string; args: ConsistencyArgs }> {
  const probes: Array<{ name: string; args: ConsistencyArgs }> = [
    { name: 'size1 - 1', args: [size1 - 1, size2, proof, root1, root2] },
    { name: 'size1 + 1', args: [size1 + 1, size2, proof, root1, root2] },
    { name: 'size1 ^ 2', args: [size1 ^ 2, size2, proof, root1, root2] },
    { name: 'size2 * 2', args: [size1, size2 * 2, proof, root1, root2] },
    { name: 'size2 / 2', args: [size1, Math.floor(size2 / 2), proof, root1, root2] },
    { name: 'wrong root1', args: [size1, size2, proof, SOME_HASH, root2] },
    { name: 'wrong root2', args: [size1, size2, proof, root1, SOME_HASH] },
    { name: 'swapped roots', args: [size1, size2, proof, root2, root1] },
    { name: 'empty proof', args: [size1, size2, [], root1, root2] },
    { name: 'trailing root1', args: [size1, size2, [...proof, root1], root1, root2] },
    { name: 'trailing root2', args: [size1, size2, [...proof, root2], root1, root2] },
    { name: 'preceding root1', args: [size1, size2, [root1, ...proof], root1, root2] },
    { name: 'preceding root2', args: [size1, size2, [root2, ...proof], root1, root2] },
    { name: 'preceding proof[0]', args: [size1, size2, [proof[0]!, ...proof], root1, root2] },
  ];
  proof.forEach((_, i) => probes.push({ name: `flipped bit in proof[${i}]`, args: [size1, size2, flip(proof, i), root1, root2] }));
  if (proof.length > 0) probes.push({ name: 'truncated proof', args: [size1, size2, proof.slice(0, -1), root1, root2] });
  return probes;
}

function flip(proof: readonly string[], i: number): string[] {
  const copy = [...proof];
  const bytes = Buffer.from(copy[i]!, 'hex');
  bytes[0] = (bytes[0] ?? 0) ^ 0x08;
  copy[i] = bytes.toString('hex');
  return copy;
}

// RFC 9162 §2.1.1 MTH, §2.1.3.1 PATH and §2.1.4.1 PROOF/SUBPROOF, transcribed literally.
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function refRoot(d: readonly string[]): string {
  if (d.length === 0) return EMPTY_ROOT;
  if (d.length === 1) return d[0]!;
  const k = split(d.length);
  return nodeHash(refRoot(d.slice(0, k)), refRoot(d.slice(k)));
}
function refPath(m: number, d: readonly string[]): string[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), refRoot(d.slice(k))] : [...refPath(m - k, d.slice(k)), refRoot(d.slice(0, k))];
}
function refProof(m: number, d: readonly string[], b: boolean): string[] {
  if (m === d.length) return b ? [] : [refRoot(d)];
  const k = split(d.length);
  return m <= k ? [...refProof(m, d.slice(0, k), b), refRoot(d.slice(k))] : [...refProof(m - k, d.slice(k), false), refRoot(d.slice(0, k))];
}
