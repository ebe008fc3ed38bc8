/**
 * Decompression of damaged payloads (fuzz findings of the `decompress` target, seed 20261206):
 * each must end in a FeedError that says what is wrong — before, zstd and brotli decoder errors
 * and yauzl's errors for a damaged local header escaped as bare Errors — and the same one
 * whatever chunks the payload arrives in (node's zstd decoder accepted trailing bytes or a frame
 * shorter than declared in one chunking and refused them in another). Valid zstd framings
 * (concatenated frames, skippable frames, checksums) still decode exactly.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, zstdCompressSync } from 'node:zlib';
import { contentDecode, limitBytes, unpack } from './decompress.ts';
import { chunked } from './testing.ts';
import { FeedError } from './types.ts';

/** Decodes `payload` as fetch.ts does, cut into chunks of `size` bytes. */
async function decode(payload: Buffer, size: number, encoding?: string, max = 1 << 20): Promise<Buffer> {
  const src = chunked(payload, size) as AsyncIterable<Buffer>;
  const out: Buffer[] = [];
  for await (const b of unpack(limitBytes(contentDecode(src, encoding), max, 'the decoded download'), { maxBytes: 1 << 22, maxDecompressedBytes: max })) out.push(b);
  return Buffer.concat(out);
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

const DAMAGED: ReadonlyArray<{ readonly name: string; readonly payload: Buffer; readonly encoding?: string; readonly says: RegExp }> = [
  { name: 'case 16: zstd data corrupted', payload: b64('KLUv/WAaALUGAHZQMh1gSeuIr63rKHUy3w0D8JslEcgNbb7J/wMrAHZpeCcAKwAnAEaBb/Cl/UcmZfOzs9lYMqb87J2kS+IOay75fJZLp1mr6Cq2J7/HA4ZC6JXq5fyIvOIYSCQQThY4jkRCQwNBAYC0v13lz+ZeaFsiVoTepGZObALrNul3p+T69zQKbMWoQsufqL6ON28HnWWM7nO9tMvTfRryUrgctwIBCIMFBIIjDgoY3HEkFPqg6BSkKWRhB9SnkhvPcWsr/c108nKlUpiaGfRFHwIAFYwZRIRjnhSanmlOEuR1CgE='), says: /not valid zstd data/ },
  { name: 'case 30: brotli Content-Encoding corrupted', payload: b64('G0gAAASacUg9cKR1k9F0tvWMQIHAj0HNsAc='), encoding: 'br', says: /not valid br data/ },
  { name: 'case 152: zstd frame larger than its buffer', payload: b64('KLUv/WCIEk0AABAwMAEAg9MDEg=='), says: /zstd/ },
  { name: 'case 650: zstd frame asking for a dictionary', payload: b64('KLUv/WKIEk0AABAAAAEAg9MDLA=='), says: /zstd/ },
  { name: 'case 794: zstd frame whose size field is wrong', payload: b64('KLUv/WAOAMUGAOYQNSSgJ22D//935+Kvf/sPksiUWruxq9PK3mKlyN7cMpMcZQKM5wEoACoAKwAKgb4Ya60+LmciTK5aZR9ekFE0EY+WM+t24S7GWT9JVicqTqgRm5JOZ89K1jSW8DRvmtJL1mCOhTbJBBq/THNxmVM/YxGeaBuqxY3Grb/39zEdlWXaoYkE78vRDCEcLJx/inxiBkdiZH66bTIewKnrI6bPT/dSlfx4EFOkxxkvEPlhAX8Df8FA4QAVAYk+HKChYFbVZn2HvEpczgWTX6HhonzxdtoEAsEFiwWBgfZ9AA=='), says: /zstd/ },
  { name: 'case 1878: zstd frame asking for too much memory', payload: b64('KLUv/aCAAFSBAAAQMDABAPv/OcACAgAQMAIAEDACABAwAgAQMAIAEDACABAwAgAQMAIAEDACABAwAgAQMAIAEAACABAwAgAQMAIAEDADJAQw'), says: /zstd/ },
  { name: 'case 1197: zstd frame followed by bytes that start no frame', payload: b64('KLUv/SAd6QAAOv2MYStlwCN+OjA3MDM6YjczMjozYWJiOmM1Y2Q6MTc0NS83Nw=='), says: /bytes after its last frame \(from byte 38\)/ },
  { name: 'case 1595: zstd frame followed by two stray bytes', payload: b64('KLUv/SAb2QAAeG4tLTgwYWs2DcFhYTkyZS5leGFtcGxlLi5uZXQ='), says: /bytes after its last frame/ },
  { name: 'case 3987: zstd frame declaring 32 bytes, holding none', payload: b64('KLUv/SAgAQAA'), says: /declares 32 bytes but its blocks hold 0/ },
  { name: 'case 12704: zstd frame with an empty compressed block', payload: b64('KLUv/SAABQAA'), says: /a compressed block of 0 bytes/ },
  { name: 'case 12704, without a content size: the same block', payload: Buffer.from('28b52ffd0000050000', 'hex'), says: /a compressed block of 0 bytes/ },
  { name: 'case 2157: zip whose local header contradicts its directory', payload: b64('UEsDBBQAAAAIAAAAAAAAAAAAAgAAAAAAAAAIAAAAZmVlZC50eHQDQFBLAQIUABQAAAAIAAAAAAAAAAAAAgAAAAAAAAAIAAAAAAAAAAAAAAAAAAEAAABmZWVkLnR4dFBLBQYAAAAAAQABADYAAAAoAAAAAAA='), says: /zip member .+ is corrupt/ },
  { name: 'case 1545: zip member cut short', payload: b64('UEsDBBQAAAAIAAAAAAB12jYVEQIAAAoDAAAIAAAAZmVlZC50eHSNkr9qFUEUh2vnKS6BSIJkds7834GQndnZqRQs04XZmVmvkORek3thK9EinYpg4xvYW4lkqzyLXWBfQS5EEBT0q875FQc+zi+XgmygbRyU1RL0kDNzdhjA96GQNgYHgJabf7G+NlW1vQamq1jZhStXjQTRCEwIJmPKGEW8usD9Im4WF3e3l2lZLnFCVnjjLBGGCusMFUEYTTwxDjpiOMbkVAaMCYgaY6HR3qvtalPyXtN0p/bZ86fdwUFebQ4P59sPD1MZ48X6vDxs4+XR0RriS1SrYo+6+2+faimplH3UTiTKteKOgeta3yEKURqTOdEGhCImJhpN3Q/KJCkiaoPVRggNRgkiDeFEGEMUo6ZWjCFggBeAMWGsohRJYZmPfmCsRCkDCMaVSFplzakNOrDali5QjigjGArFAApTQtFyHNem2l6Xq+bBIf7mEv+S7fyMFILJap9DtU/LPi3V692JCuOTeAyP+2OKklxkL3lO1PEMXiTQWWnNCiuREMrQYp5u5unzPL2dp/fz9HGe3s3TDU4Un69SPH+EIvW1r1+4ErhQtabQh84PrutzyjXTBFnNFclq0EK6IbWSyVinTg+tpY5ptatYaVMqaHl2tjZVRUYOWAtMuMa7D4M+GY/vblEMEYZUQOlODN7X0bc2kzZFIVOqhWyDk0OBjOKTvmnwjzdf8PgLfLUd/4P7r9//yH4CUEsBAhQAFAAAAAgAAAAAAHXaNhURAgAACgMAAAgAAAAAAAAAAAAAAAAAAAAAZmVlZC50eHRQSwUGAAAAAAEAAQA2AAAANwIAAAAA'), says: /zip member .+ is corrupt/ },
  { name: 'case 893: zip member running past the end of the file', payload: b64('UEsDBBQAAAAIAAAAAACTO4AFgwAAAIAAAAAIAAAAZmVlZC50eHQFwUsOgjAQANA9d6GUUkph1+nnGgZKjYk/omjYumCniUv3nmMO4inmCr73+zKpKyGyclBu9IOx3pXWRB9qBdroIXAeKgM8RUixVhakbKEdG7stW8G1AcH7xrmQ7eZ56oqCcCX8ED4IX4RvwifhyjbXy50tpzzvWVr643RILJ7Zbd/9AVBLAQIUABQAAAAIAAAAAACTO4AFgwAgAIAAAAAIAAAAAAAAAAAAAAAAAAAAAABmZWVkLnR4dFBLBQYAAAAAAQABADYAAACpAAAAAAA='), says: /zip member .+ is corrupt/ },
];

describe('damaged compressed payloads fail with bad-archive, in any chunking (fuzz seed 20261206)', () => {
  for (const c of DAMAGED) {
    test(c.name, async () => {
      for (const size of [1 << 16, 1, 3, 7]) {
        await assert.rejects(decode(c.payload, size, c.encoding), (err: unknown) => err instanceof FeedError && err.code === 'bad-archive' && c.says.test(err.message), `chunks of ${size} bytes`);
      }
    });
  }
});

const TEXT = Buffer.from('198.51.100.7\nevil.example\n'.repeat(40));
const SKIPPABLE = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from('abc')]);

describe('valid zstd framings still decode exactly, in any chunking', () => {
  const cases: ReadonlyArray<{ readonly name: string; readonly payload: Buffer; readonly text: Buffer }> = [
    { name: 'one frame', payload: zstdCompressSync(TEXT), text: TEXT },
    { name: 'a frame with a content checksum', payload: zstdCompressSync(TEXT, { params: { [constants.ZSTD_c_checksumFlag]: 1 } }), text: TEXT },
    { name: 'two frames and a skippable frame', payload: Buffer.concat([zstdCompressSync(TEXT), SKIPPABLE, zstdCompressSync(TEXT)]), text: Buffer.concat([TEXT, TEXT]) },
    { name: 'an empty frame', payload: zstdCompressSync(Buffer.alloc(0)), text: Buffer.alloc(0) },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      for (const size of [1 << 16, 1, 5]) assert.deepEqual(await decode(c.payload, size), c.text, `chunks of ${size} bytes`);
    });
  }
});
