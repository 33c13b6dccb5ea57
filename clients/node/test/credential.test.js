// The credential against the spec's test vector (docs/contract/credential-vector.json, credential.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { canonicalMessage, parseCredentialKeys, signV1, signV2, utcMicros } from '../src/credential.js';

const contract = new URL('../../../docs/contract/', import.meta.url);
const vectorFile = process.env.CREDENTIAL_VECTOR ?? new URL('credential-vector.json', contract);
const hasVector = existsSync(vectorFile);
const schema = JSON.parse(readFileSync(new URL('schemas/ViolationInput.json', contract)));

test('v2: the published vector, field by field', { skip: !hasVector && 'credential.md has no vector in this tree' }, () => {
  const v = JSON.parse(readFileSync(vectorFile));
  const [id, roles, hex] = v.key.split(':');
  const keys = parseCredentialKeys(`${id}:${roles}:${hex}`);
  assert.equal(canonicalMessage(v.message, schema), v.canonical_message);
  const cred = signV2({
    keys, role: v.role, actor: v.actor, account: v.account, command: v.command,
    message: v.message, schema, now: new Date(v.issued_at), ttlSeconds: v.ttl_seconds,
  });
  assert.equal(cred.digest, v.digest);
  assert.equal(cred.signature, v.signature);
  assert.deepEqual(cred, v.credential);
});

test('instants are read with their offset and written in UTC with microseconds', () => {
  assert.equal(utcMicros('2026-05-01T20:00:00.25+08:00'), '2026-05-01T12:00:00.250000Z');
  assert.equal(utcMicros('2026-12-31T23:30:00-01:00'), '2027-01-01T00:30:00.000000Z');
  assert.throws(() => utcMicros('2026-05-01T20:00:00'));
});

test('v1: the signed string and an edited field no longer verifying', () => {
  const keys = parseCredentialKeys('k1:*:' + '00'.repeat(32));
  const now = new Date('2027-01-24T06:00:00.700Z');
  const cred = signV1({ keys, role: 'seller', actor: 'M1', account: 'M1', command: 'verify_email', now });
  assert.equal(cred.expires_at, '2027-01-24T06:10:00+00:00');
  const other = signV1({ keys, role: 'seller', actor: 'M2', account: 'M1', command: 'verify_email', now });
  assert.notEqual(cred.signature, other.signature);
});

test('a key signs only the roles it lists', () => {
  const keys = parseCredentialKeys('portal:seller:' + '11'.repeat(32));
  assert.throws(() => signV1({ keys, role: 'operator', actor: 'lin', account: '*', command: 'retry' }));
});
