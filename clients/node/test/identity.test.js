// The identity numbers against formats.md's example pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { idCardNumber, licenceNumber } from '../src/identity.js';

const page = readFileSync(new URL('../../../docs/contract/formats.md', import.meta.url), 'utf8');
const example = (field) => new RegExp(`^    ${field}\\s+(\\S+)`, 'm').exec(page)[1];

test('the ID card number of formats.md', () => assert.equal(idCardNumber(71), example('id_card_number')));
test('the licence number of formats.md', () => {
  // 0000000UX: n whose base-31 digits, least significant first, are 0,0,0,0,0,0,0,U,X
  const n = 27 * 31 ** 7 + 29 * 31 ** 8; // U is the 28th character of the alphabet, X the 30th
  assert.equal(licenceNumber(n), example('licence_number'));
});
