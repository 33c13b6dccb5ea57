// The credential (`auth`) a command carries: HMAC-SHA256 over its fields, by a key of CREDENTIAL_KEYS.
// v2 is docs/contract/credential.md (bound to the message: fact id, digest of its canonical JSON, issue
// time), written from that spec and its vector; v1 is the form before it (no message binding), kept for
// workers that predate v2. `credentialFormat()` says which one the contract this client reads describes.
import { createHash, createHmac } from 'node:crypto';

const US = '\x1f';
const ROLES = ['seller', 'service', 'operator', 'system'];
const FACT_FIELDS = ['violation_id', 'report_id', 'case_id', 'product_id', 'request_id', 'buyer_id', 'origin_member_id'];

/** `id:roles:hex,...` with roles `*` or `seller+service`; for each role the first key allowed signs. */
export function parseCredentialKeys(spec) {
  const keys = [];
  for (const entry of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [id, roles, hex] = entry.split(':');
    const secret = Buffer.from(hex ?? '', 'hex');
    const allowed = roles === '*' ? ROLES : (roles ?? '').split('+');
    if (!id || secret.length < 32 || !allowed.every((r) => ROLES.includes(r))) {
      throw new Error(`CREDENTIAL_KEYS: key ${id} needs an id, known roles and >= 32 bytes`);
    }
    keys.push({ id, roles: new Set(allowed), secret });
  }
  if (keys.length === 0) throw new Error('CREDENTIAL_KEYS lists no key');
  return keys;
}

function keyFor(keys, role) {
  const key = keys.find((k) => k.roles.has(role));
  if (!key) throw new Error(`no credential key here may sign for role ${role}`);
  return key;
}

/** An instant as `YYYY-MM-DDTHH:MM:SS+00:00` (whole seconds, UTC). */
export function utcSeconds(date) {
  return new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
}

/** An RFC 3339 instant in UTC with six fraction digits: `2026-05-01T12:00:00.250000Z`. */
export function utcMicros(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/i.exec(value);
  if (!m) throw new Error(`not an RFC 3339 time with an offset: ${value}`);
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    offsetMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) - offsetMinutes * 60_000;
  return new Date(ms).toISOString().slice(0, 19) + '.' + frac.padEnd(6, '0') + 'Z';
}

function isInstant(schema) {
  if (!schema) return false;
  if (schema.format === 'date-time') return true;
  return (schema.anyOf ?? []).some(isInstant);
}

/** The message as the account reads it (credential.md): every declared field but `auth`/`admission`,
 *  defaults for absent ones, instants in UTC with microseconds, nested messages (a registration's
 *  consents) likewise. `schema` is docs/contract/schemas/<Type>.json. */
export function canonicalMessage(message, schema) {
  const out = {};
  for (const [name, field] of Object.entries(schema.properties)) {
    if (name === 'auth' || name === 'admission') continue;
    out[name] = canonicalField(message, name, field, schema);
  }
  return canonicalJson(out);
}

function canonicalField(message, name, field, root) {
  const value = name in message ? message[name] : field.default;
  return value === undefined ? null : canonicalValue(value, field, root);
}

function resolve(schema, root) {
  let s = schema;
  while (s && s.$ref) s = root.$defs[s.$ref.split('/').pop()];
  return s;
}

function canonicalValue(value, schema, root) {
  const s = resolve(schema, root);
  if (value === null || !s) return value;
  if (isInstant(s) && typeof value === 'string') return utcMicros(value);
  if (s.anyOf) {
    const kind = Array.isArray(value) ? 'array' : typeof value === 'object' ? 'object' : null;
    const alt = s.anyOf.map((a) => resolve(a, root)).find((a) => kind !== null && (a.type === kind || (kind === 'object' && a.properties)));
    return alt ? canonicalValue(value, alt, root) : value;
  }
  if (Array.isArray(value)) return value.map((v) => canonicalValue(v, s.items, root));
  if (typeof value === 'object' && s.properties) {
    const out = {};
    for (const [name, field] of Object.entries(s.properties)) out[name] = canonicalField(value, name, field, root);
    return out;
  }
  return value;
}

function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function factId(message) {
  for (const name of FACT_FIELDS) if (typeof message[name] === 'string') return message[name];
  return '';
}

const hmac = (secret, text) => createHmac('sha256', secret).update(Buffer.from(text, 'utf8')).digest('hex');

/** A v2 credential for `message` (docs/contract/credential.md). */
export function signV2({ keys, role, actor, account, command, message, schema, now = new Date(), ttlSeconds = 600 }) {
  const key = keyFor(keys, role);
  const issued = utcSeconds(now);
  const expires = utcSeconds(new Date(Math.floor(now.getTime() / 1000) * 1000 + ttlSeconds * 1000));
  const canonical = message && schema ? canonicalMessage(message, schema) : null;
  const digest = canonical === null ? '' : createHash('sha256').update(Buffer.from(canonical, 'utf8')).digest('hex');
  const fact = message ? factId(message) : '';
  const signed = ['v2', actor, role, account, command, fact, digest, issued, expires, key.id].join(US);
  return {
    actor, role, account, command, expires_at: expires, key_id: key.id,
    signature: hmac(key.secret, signed), issued_at: issued, fact_id: fact, digest,
  };
}

/** A v1 credential (before credential.md): the fields joined by U+001F behind "v1", no message binding. */
export function signV1({ keys, role, actor, account, command, now = new Date(), ttlSeconds = 600 }) {
  const key = keyFor(keys, role);
  const expires = utcSeconds(new Date(Math.floor(now.getTime() / 1000) * 1000 + ttlSeconds * 1000));
  const signed = ['v1', actor, role, account, command, expires, key.id].join(US);
  return { actor, role, account, command, expires_at: expires, key_id: key.id, signature: hmac(key.secret, signed) };
}

/** v2 when the contract's Credential schema has `issued_at` (credential.md), else v1. */
export function credentialFormat(credentialSchema) {
  return credentialSchema?.properties?.issued_at ? 'v2' : 'v1';
}
