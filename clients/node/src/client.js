// A client of the seller-account system written from docs/contract/ and the README's contract section:
// the workflow, signal, update and query names and argument lists come from contract.json, each message's
// fields from its schema, the codec from codec.md, the credential from credential.md.
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApplicationFailure, Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError,
} from '@temporalio/client';
import { DefaultFailureConverter } from '@temporalio/common';
import { EncryptionCodec } from './codec.js';
import { credentialFormat, parseCredentialKeys, signV1, signV2 } from './credential.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const CONTRACT_DIR = process.env.SELLER_CONTRACT_DIR ?? join(HERE, '..', '..', '..', 'docs', 'contract');

/** A refused command: the details of an ApplicationError of type RuleRefusal. */
export class Refused extends Error {
  constructor({ rule, code, message, retryable }, nonRetryable) {
    super(`${rule} ${code}: ${message}`);
    Object.assign(this, { rule, code, sentence: message, retryable, nonRetryable });
  }

  toJSON() {
    return { rule: this.rule, code: this.code, message: this.sentence, retryable: this.retryable, non_retryable: this.nonRetryable };
  }
}

export class Contract {
  constructor(dir = CONTRACT_DIR) {
    this.dir = dir;
    this.index = JSON.parse(readFileSync(join(dir, 'contract.json'), 'utf8'));
  }

  schema(name) {
    return JSON.parse(readFileSync(join(this.dir, 'schemas', `${name}.json`), 'utf8'));
  }

  example(name) {
    return JSON.parse(readFileSync(join(this.dir, 'examples', `${name}.json`), 'utf8'));
  }

  get account() {
    return this.index.workflows.SellerAccount;
  }

  /** The payload type of a signal or update of the account workflow. */
  messageType(command) {
    return this.account.signals?.[command] ?? this.account.updates?.[command]?.arg ?? null;
  }

  roles(command) {
    return this.index.credential.roles[command] ?? [];
  }

  credentialFormat() {
    const anyMessage = this.schema(this.messageType('verify_email'));
    return credentialFormat(anyMessage.$defs?.Credential);
  }
}

export class SellerClient {
  constructor({ client, contract, credentialKeys, taskQueue, blobDir, format }) {
    Object.assign(this, { client, contract, credentialKeys, taskQueue, blobDir });
    this.format = format ?? contract.credentialFormat();
  }

  /** Everything from the environment the README's *Settings* name. */
  static async connect(env = process.env) {
    const contract = new Contract();
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS ?? 'localhost:7233' });
    const client = new Client({
      connection,
      namespace: env.TEMPORAL_NAMESPACE ?? 'default',
      dataConverter: {
        payloadCodecs: [EncryptionCodec.fromEnv(env.CODEC_KEYS)],
        // Messages of failures travel in their encoded (encrypted) attributes: codec.md, *Failures*.
        failureConverter: new DefaultFailureConverter({ encodeCommonAttributes: true }),
      },
    });
    return new SellerClient({
      client,
      contract,
      credentialKeys: parseCredentialKeys(env.CREDENTIAL_KEYS ?? ''),
      taskQueue: env.TASK_QUEUE ?? contract.index.task_queue,
      blobDir: join(env.SELLER_DATA_DIR ?? '.data', 'blobs'),
    });
  }

  async close() {
    await this.client.connection.close();
  }

  /** `message` carrying a credential for `command` in `role` (the first role the contract allows if none). */
  sign(command, account, message, { role, actor } = {}) {
    const allowed = this.contract.roles(command);
    role ??= allowed[0];
    if (!allowed.includes(role)) throw new Error(`${command} is not for the ${role} role`);
    const type = this.contract.messageType(command) ?? (command === 'register' ? 'RegistrationInput' : null);
    const base = { keys: this.credentialKeys, role, actor: actor ?? account, account, command };
    const auth = this.format === 'v2'
      ? signV2({ ...base, message, schema: type && this.contract.schema(type) })
      : signV1(base);
    return { ...message, auth };
  }

  /** Register a seller (workflow `Registration`); the same request id answers the same result. */
  async register(registration, { service = 'signup-service' } = {}) {
    const wf = this.contract.index.workflows.Registration;
    const workflowId = wf.id.replace('<request_id>', registration.request_id);
    const args = wf.args.map((type) => {
      if (type === 'RegistrationInput') {
        const needsAuth = 'auth' in (this.contract.schema(type).properties ?? {});
        if (!needsAuth) return registration;
        const roles = this.contract.roles('register');
        const role = roles.includes('service') ? 'service' : roles[0];
        return this.sign('register', '*', registration, { role, actor: role === 'service' ? service : undefined });
      }
      return this.contract.example(type); // the contract's documented default (e.g. Policy: the built-in policy)
    });
    try {
      const handle = await this.client.workflow.start('Registration', {
        taskQueue: this.taskQueue, workflowId, args, workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      });
      return await handle.result();
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      return await this.client.workflow.getHandle(workflowId).result();
    }
  }

  account(memberId) {
    return this.client.workflow.getHandle(this.contract.account.id.replace('<member_id>', memberId));
  }

  /** Send an update with a request id (the update id); a refusal throws `Refused`. */
  async command(memberId, update, message, { requestId = randomUUID(), role, actor } = {}) {
    const signed = this.sign(update, memberId, message, { role, actor });
    try {
      return await this.account(memberId).executeUpdate(update, { args: [signed], updateId: requestId });
    } catch (err) {
      throw refusalOf(err) ?? err;
    }
  }

  async signal(memberId, name, message, { role, actor } = {}) {
    await this.account(memberId).signal(name, this.sign(name, memberId, message, { role, actor }));
  }

  async status(memberId) {
    return await this.account(memberId).query('status');
  }

  /** Development only (one host): the file's bytes under their SHA-256 in the workers' blob folder.
   * Services elsewhere upload with `uploadToUrl` (the README's *Uploading a photo or an image*). */
  uploadBlob(file) {
    const bytes = readFileSync(file);
    const hex = createHash('sha256').update(bytes).digest('hex');
    const target = join(this.blobDir, hex.slice(0, 2), hex.slice(2));
    mkdirSync(dirname(target), { recursive: true });
    const partial = join(this.blobDir, `.incoming-node-${randomUUID()}`);
    writeFileSync(partial, bytes);
    renameSync(partial, target); // readers never see half a file
    return `sha256:${hex}`;
  }
}

export function refusalOf(err) {
  if (!(err instanceof WorkflowUpdateFailedError)) return null;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== 'RuleRefusal') return null;
  return new Refused(cause.details?.[0] ?? { rule: '?', code: 'refused', message: cause.message }, cause.nonRetryable);
}

/** A blob reference: `sha256:` and the 64 lowercase hex digits of the bytes' SHA-256 (formats.md). */
export function blobRef(bytes) {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Upload a file's bytes with a pre-signed PUT URL (`starter.py upload-url SHA256` or seller_client.upload_url
 * issue it for an S3 blob store) and answer the reference to send in `photo_ref` / `image_ref`.
 * `ref`, the reference the URL was issued for, is checked before anything is sent: a worker would refuse
 * bytes that do not hash to it on first read.
 */
export async function uploadToUrl(url, bytes, { ref, timeoutMs = 60_000 } = {}) {
  const body = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const own = blobRef(body);
  if (ref !== undefined && ref !== own) throw new Error(`these bytes are ${own}, not ${ref}`);
  // The bytes as they are: no Content-Type or other header the signature does not cover.
  const response = await fetch(url, { method: 'PUT', body, signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) {
    // The store's answer names the cause (expired, signature); its status is enough for the caller.
    await response.body?.cancel();
    throw new Error(`upload refused by the store: HTTP ${response.status} ${response.statusText}`);
  }
  return own;
}
