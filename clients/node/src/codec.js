// The payload codec of docs/contract/codec.md: AES-256-GCM over the whole serialized Payload.
// Written from the spec and its vectors (docs/contract/codec-vectors.json), not from the Python code.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import proto from '@temporalio/proto';

const Payload = proto.temporal.api.common.v1.Payload;
export const ENCODING = 'binary/encrypted';
export const KEY_ID = 'encryption-key-id';
const NONCE = 12;
const TAG = 16;
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** `k2:<64 hex>,k1:<64 hex>`: the first key encrypts, all decrypt. */
export function parseCodecKeys(spec) {
  const keys = new Map();
  for (const entry of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [id, hex] = entry.split(':');
    if (!id || !/^[0-9a-fA-F]{64}$/.test(hex ?? '')) throw new Error(`CODEC_KEYS: bad entry for key ${id}`);
    if (keys.has(id)) throw new Error(`CODEC_KEYS: key ${id} twice`);
    keys.set(id, Buffer.from(hex, 'hex'));
  }
  if (keys.size === 0) throw new Error('CODEC_KEYS lists no key');
  return { keys, current: keys.keys().next().value };
}

export class EncryptionCodec {
  /** @param {Map<string, Buffer>} keys  @param {string} current  @param {() => Buffer} nonce */
  constructor(keys, current, nonce = () => randomBytes(NONCE)) {
    if (!keys.has(current)) throw new Error(`codec key ${current} is not among the keys`);
    this.keys = keys;
    this.current = current;
    this.nonce = nonce;
  }

  static fromEnv(spec = process.env.CODEC_KEYS) {
    if (!spec) throw new Error('CODEC_KEYS is not set');
    const { keys, current } = parseCodecKeys(spec);
    return new EncryptionCodec(keys, current);
  }

  async encode(payloads) {
    return payloads.map((p) => this.encodeOne(p));
  }

  async decode(payloads) {
    return payloads.map((p) => this.decodeOne(p));
  }

  encodeOne(payload) {
    const plaintext = Payload.encode(Payload.create(payload)).finish();
    const nonce = this.nonce();
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.current), nonce);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { encoding: utf8.encode(ENCODING), [KEY_ID]: utf8.encode(this.current) },
      data: new Uint8Array(Buffer.concat([nonce, sealed])),
    };
  }

  decodeOne(payload) {
    const encoding = payload.metadata?.encoding;
    if (!encoding || text.decode(encoding) !== ENCODING) return payload; // not encrypted: as it is
    const keyId = text.decode(payload.metadata[KEY_ID] ?? new Uint8Array());
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`payload encrypted with unknown key id ${JSON.stringify(keyId)}`);
    const data = Buffer.from(payload.data ?? []);
    if (data.length < NONCE + TAG) throw new Error('encrypted payload too short');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE));
    decipher.setAuthTag(data.subarray(data.length - TAG));
    const plaintext = Buffer.concat([decipher.update(data.subarray(NONCE, data.length - TAG)), decipher.final()]);
    const inner = Payload.decode(plaintext);
    return { metadata: { ...inner.metadata }, data: inner.data };
  }
}
