// Blob references (formats.md) and the pre-signed upload's own check, before anything is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blobRef, uploadToUrl } from '../src/client.js';

test('a reference is sha256: and the lowercase hex of the bytes', () => {
  // FIPS 180-2's example: SHA-256("abc").
  assert.equal(blobRef(Buffer.from('abc')), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('bytes that are not the declared reference are never sent', async () => {
  // An address nothing listens on: reaching it would fail differently.
  await assert.rejects(
    uploadToUrl('http://127.0.0.1:9/never', Buffer.from('abd'), { ref: blobRef(Buffer.from('abc')) }),
    /these bytes are sha256:[0-9a-f]{64}, not sha256:ba7816bf/,
  );
});
