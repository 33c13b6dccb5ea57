#!/usr/bin/env node
// The Node client's command line: one command per run, JSON on stdout; a refusal prints
// {"refused": {...}} and exits 3 (as starter.py does). Settings come from the environment (README).
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { Refused, SellerClient, uploadToUrl } from '../src/client.js';
import { idCardNumber, licenceNumber } from '../src/identity.js';

const [command, ...rest] = process.argv.slice(2);
const { values: opt, positionals: pos } = parseArgs({
  args: rest,
  allowPositionals: true,
  options: {
    'store-name': { type: 'string' }, email: { type: 'string' }, mobile: { type: 'string' },
    region: { type: 'string', default: 'CN' }, licence: { type: 'string' }, 'id-card': { type: 'string' },
    'request-id': { type: 'string' }, title: { type: 'string' }, price: { type: 'string' },
    category: { type: 'string' }, image: { type: 'string' }, description: { type: 'string', default: '' },
    id: { type: 'string' }, points: { type: 'string', default: '0' }, rule: { type: 'string', default: 'ENF-2' },
    severity: { type: 'string', default: 'normal' }, service: { type: 'string', default: 'risk-engine' },
    'accept-notice': { type: 'string', multiple: true, default: [] }, ref: { type: 'string' },
  },
});

async function run(seller) {
  const requestId = opt['request-id'] ?? randomUUID();
  switch (command) {
    case 'identity': // valid synthetic numbers (formats.md), for tests
      return { id_card_number: idCardNumber(Number(pos[0])), licence_number: licenceNumber(Number(pos[0])) };
    case 'register':
      return await seller.register({
        request_id: requestId, store_name: opt['store-name'], email: opt.email, mobile: opt.mobile,
        region: opt.region, licence_number: opt.licence, id_card_number: opt['id-card'],
        // DATA-1: the notices the applicant accepted now (identity-v1 is required, face-v1 optional).
        consents: opt['accept-notice'].map((version) => ({
          purpose: version.split('-')[0], notice_version: version, accepted_at: new Date().toISOString(),
        })),
      });
    case 'upload': // development: into the blob folder (SELLER_DATA_DIR)
      return { ref: seller.uploadBlob(pos[0]) };
    case 'upload-to-url': // URL FILE [--ref sha256:...]: a pre-signed PUT (starter.py upload-url)
      return { ref: await uploadToUrl(pos[0], readFileSync(pos[1]), { ref: opt.ref }) };
    case 'verify-email':
      return { state: await seller.command(pos[0], 'verify_email', { code: pos[1] }, { requestId }) };
    case 'authenticate': {
      const photo_ref = seller.uploadBlob(pos[1]);
      return await seller.command(pos[0], 'submit_authentication_photo', { photo_ref }, { requestId });
    }
    case 'start-exam':
      return await seller.command(pos[0], 'start_exam', {}, { requestId });
    case 'submit-exam': {
      const answers = pos[2].split(',').map(Number);
      return await seller.command(pos[0], 'submit_exam', { paper_id: pos[1], answers }, { requestId });
    }
    case 'release': {
      const image_ref = seller.uploadBlob(opt.image);
      const product = { title: opt.title, description: opt.description, price: opt.price, category: opt.category, image_ref };
      return await seller.command(pos[0], 'release_product', product, { requestId });
    }
    case 'violation': {
      const violation = {
        violation_id: opt.id, category: pos[1], rule: opt.rule, points: Number(opt.points),
        severity: opt.severity, evidence_ref: '', given_at: new Date().toISOString(),
      };
      await seller.signal(pos[0], 'report_violation', violation, { role: 'service', actor: opt.service });
      return { sent: 'report_violation', violation_id: opt.id };
    }
    case 'status':
      return await seller.status(pos[0]);
    default:
      throw new Error(`unknown command ${command}`);
  }
}

let seller;
try {
  // Commands that need no Temporal connection run without one.
  seller = ['identity', 'upload-to-url'].includes(command) ? null : await SellerClient.connect();
  console.log(JSON.stringify(await run(seller), null, 2));
} catch (err) {
  if (!(err instanceof Refused)) throw err;
  console.log(JSON.stringify({ refused: err }, null, 2));
  process.exitCode = 3;
} finally {
  await seller?.close();
}
