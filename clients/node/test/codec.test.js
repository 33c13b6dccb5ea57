// The codec against the spec's test vectors (docs/contract/codec-vectors.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EncryptionCodec } from '../src/codec.js';
import proto from '@temporalio/proto';

const vectors = JSON.parse(readFileSync(new URL('../../../docs/contract/codec-vectors.json', import.meta.url)));
const utf8 = new TextEncoder();
const payload = (j) => ({
  metadata: Object.fromEntries(Object.entries(j.metadata).map(([k, v]) => [k, utf8.encode(v)])),
  data: Buffer.from(j.data_hex, 'hex'),
});
const asJson = (p) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata).sort().map(([k, v]) => [k, new TextDecoder().decode(v)])),
  data_hex: Buffer.from(p.data ?? []).toString('hex'),
});

for (const v of vectors.encode_and_decode) {
  test(`encodes the vector: ${v.name}`, async () => {
    const keys = new Map([[v.key_id, Buffer.from(v.key_hex, 'hex')]]);
    const codec = new EncryptionCodec(keys, v.key_id, () => Buffer.from(v.nonce_hex, 'hex'));
    const plaintext = proto.temporal.api.common.v1.Payload.encode(payload(v.payload)).finish();
    assert.equal(Buffer.from(plaintext).toString('hex'), v.plaintext_hex);
    const [encoded] = await codec.encode([payload(v.payload)]);
    assert.deepEqual(asJson(encoded), v.encoded);
  });
  test(`decodes the vector: ${v.name}`, async () => {
    const keys = new Map([[v.key_id, Buffer.from(v.key_hex, 'hex')]]);
    const [decoded] = await new EncryptionCodec(keys, v.key_id).decode([payload(v.encoded)]);
    assert.deepEqual(asJson(decoded), v.payload);
  });
}

for (const v of vectors.decode_must_fail) {
  test(`refuses to decode: ${v.name}`, async () => {
    const keys = new Map(Object.entries(v.keys).map(([k, h]) => [k, Buffer.from(h, 'hex')]));
    const codec = new EncryptionCodec(keys, keys.keys().next().value);
    await assert.rejects(codec.decode([payload(v.encoded)]));
  });
}

test('a fresh nonce for every payload', async () => {
  const codec = EncryptionCodec.fromEnv('k1:' + '11'.repeat(32));
  const p = payload(vectors.encode_and_decode[0].payload);
  const [a, b] = await codec.encode([p, p]);
  assert.notDeepEqual(a.data.subarray(0, 12), b.data.subarray(0, 12));
});
