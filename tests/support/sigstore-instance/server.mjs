// A Sigstore instance on loopback for mcpsig's signing tests.
//
// It serves @sigstore/mock's own Fulcio, Rekor v1 and TSA handlers (sigstore-js's server-side
// implementation) over real HTTP on 127.0.0.1, so that real clients (ours, sigstore-python) talk
// to it exactly as they talk to the public instance. It writes the matching trust material into
// the directory given as first argument:
//   trusted_root.json      the instance's CA, CT log, Rekor log and TSA keys
//   signing_config.json    signing config v0.2 pointing at this instance
//   trust_config.json      both, as a ClientTrustConfig (sigstore-python --trust-config)
// and prints the base URL as the first stdout line once everything is ready.
//
// Usage: node server.mjs OUT_DIR [--port N] [--rekor-time-offset SECONDS] [--tsa] [--rekor-v2]
//   --rekor-time-offset shifts the log's clock (integrated time, SET, checkpoint) so a test can
//   obtain an entry logged after the signing certificate expired.
//   --tsa lists the timestamp authority in the signing config, so clients also ask it for an
//   RFC 3161 timestamp (it is always served and always in the trusted root).
//   --rekor-v2 lists the log's Rekor v2 API (POST /api/v2/log/entries) in the signing config,
//   ahead of v1; v2 entries carry no time of their own, so it implies --tsa.
//
// The process exits when its stdin closes or on SIGTERM/SIGINT, so a test that dies never
// leaves it running.

import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const require = createRequire(import.meta.url);
const mock = require('@sigstore/mock');
// Both are dependencies of @sigstore/mock, used here to read DER timestamp requests.
const pkijs = require('pkijs');
const asn1js = require('asn1js');
const canonicalize = require('canonicalize');
const rekorV2Types = require('@sigstore/protobuf-specs/rekor/v2');
const { HashAlgorithm } = require('@sigstore/protobuf-specs');

const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_TSA_POLICY = '1.3.6.1.4.1.57264.2';

const MAX_BODY = 4 * 1024 * 1024;

function parseArgs(argv) {
  const opts = { outDir: null, port: 0, rekorTimeOffset: 0, tsa: false, rekorV2: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') {
      opts.port = Number(argv[++i]);
    } else if (a === '--tsa') {
      opts.tsa = true;
    } else if (a === '--rekor-v2') {
      opts.rekorV2 = true;
      opts.tsa = true;
    } else if (a === '--rekor-time-offset') {
      opts.rekorTimeOffset = Number(argv[++i]);
    } else if (!opts.outDir) {
      opts.outDir = a;
    } else {
      throw new Error(`unexpected argument: ${a}`);
    }
  }
  if (!opts.outDir) {
    throw new Error('usage: node server.mjs OUT_DIR [--port N] [--rekor-time-offset SECONDS]');
  }
  if (!Number.isInteger(opts.port) || !Number.isFinite(opts.rekorTimeOffset)) {
    throw new Error('--port and --rekor-time-offset take numbers');
  }
  return opts;
}

const b64 = (buf) => Buffer.from(buf).toString('base64');
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest();
const genKey = () => crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const spkiDer = (keyObject) => keyObject.export({ format: 'der', type: 'spki' });

// Real Fulcio takes the OIDC token from the Authorization header and the CSR as base64 of its
// PEM; the mock handler reads both from the JSON body in other shapes. Bring the request to the
// mock's shape.
function adaptFulcioRequest(headers, raw) {
  const body = JSON.parse(raw);
  const auth = headers['authorization'] || '';
  const bearer = auth.match(/^Bearer\s+(.+)$/i);
  body.credentials = body.credentials || {};
  if (bearer && !body.credentials.oidcIdentityToken) {
    body.credentials.oidcIdentityToken = bearer[1].trim();
  }
  if (typeof body.certificateSigningRequest === 'string' &&
      !body.certificateSigningRequest.includes('-----BEGIN')) {
    body.certificateSigningRequest = Buffer.from(body.certificateSigningRequest, 'base64').toString('utf8');
  }
  return JSON.stringify(body);
}

// DSSE pre-authentication encoding, to check envelopes the way real Rekor does.
function pae(payloadType, payload) {
  const t = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${t.length} `, 'utf8'), t,
    Buffer.from(` ${payload.length} `, 'utf8'), payload,
  ]);
}

function publicKeyFromPem(pem) {
  if (pem.includes('BEGIN CERTIFICATE')) {
    return new crypto.X509Certificate(pem).publicKey;
  }
  return crypto.createPublicKey(pem);
}

// Real Rekor does not store a proposed `dsse` entry as sent: it checks every signature against
// the verifiers and stores hashes of the envelope and payload plus the signatures. The mock logs
// the proposal verbatim, so do what Rekor does before handing it on. A hashedrekord entry is
// stored as proposed by real Rekor too (the mock does not check its signature; verifiers do).
function adaptRekorRequest(raw) {
  const entry = JSON.parse(raw);
  if (entry.kind === 'dsse' && entry.spec && entry.spec.proposedContent) {
    const { envelope, verifiers } = entry.spec.proposedContent;
    const env = JSON.parse(envelope);
    const payload = Buffer.from(env.payload, 'base64');
    const keys = (verifiers || []).map((v) => Buffer.from(v, 'base64').toString('utf8'));
    const signatures = [];
    for (const sig of env.signatures || []) {
      const key = keys.find((pem) =>
        crypto.verify('sha256', pae(env.payloadType, payload), publicKeyFromPem(pem), Buffer.from(sig.sig, 'base64')));
      if (!key) {
        throw new Error('all signatures must have a key that verifies it');
      }
      signatures.push({ signature: sig.sig, verifier: b64(key) });
    }
    if (signatures.length === 0) {
      throw new Error('dsse envelope has no signatures');
    }
    signatures.sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
    return JSON.stringify({
      apiVersion: entry.apiVersion,
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: sha256(Buffer.from(envelope, 'utf8')).toString('hex') },
        payloadHash: { algorithm: 'sha256', value: sha256(payload).toString('hex') },
        signatures,
      },
    });
  }
  return raw;
}

// ECDSA P-256 verification of a signature over a precomputed SHA-256 digest. Real Rekor v2
// checks a hashedrekord's signature against its digest before logging it; node's crypto can
// only verify over a message it hashes itself, so the curve arithmetic is done here (BigInt,
// affine coordinates; slow but ample for a test instance).
const P256 = {
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
  g: [0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n],
};
const mod = (x, m) => ((x % m) + m) % m;
function inv(x, m) {
  let [a, b, u, v] = [mod(x, m), m, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b, u, v] = [b, a - q * b, v, u - q * v];
  }
  return mod(u, m);
}
function pointAdd(P, Q) {
  const { p, a } = P256;
  if (P === null) return Q;
  if (Q === null) return P;
  if (P[0] === Q[0] && mod(P[1] + Q[1], p) === 0n) return null;
  const l = P[0] === Q[0] && P[1] === Q[1]
    ? mod((3n * P[0] * P[0] + a) * inv(2n * P[1], p), p)
    : mod((Q[1] - P[1]) * inv(Q[0] - P[0], p), p);
  const x = mod(l * l - P[0] - Q[0], p);
  return [x, mod(l * (P[0] - x) - P[1], p)];
}
function pointMul(k, P) {
  let R = null;
  for (let bit = BigInt(k.toString(2).length) - 1n; bit >= 0n; bit--) {
    R = pointAdd(R, R);
    if ((k >> bit) & 1n) R = pointAdd(R, P);
  }
  return R;
}
const bigint = (buf) => BigInt(`0x${Buffer.from(buf).toString('hex') || '0'}`);
// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, short-form lengths (P-256 fits).
function derSignature(sig) {
  const b = Buffer.from(sig);
  if (b[0] !== 0x30 || b[1] !== b.length - 2 || b[2] !== 0x02) return null;
  const rEnd = 4 + b[3];
  if (b[rEnd] !== 0x02 || rEnd + 2 + b[rEnd + 1] !== b.length) return null;
  return [bigint(b.subarray(4, rEnd)), bigint(b.subarray(rEnd + 2))];
}
function verifyP256Prehash(keyObject, digest, sig) {
  const { n, g } = P256;
  if (keyObject.asymmetricKeyType !== 'ec' || keyObject.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('this instance checks hashedrekord signatures of ECDSA P-256 keys only');
  }
  const jwk = keyObject.export({ format: 'jwk' });
  const Q = [bigint(Buffer.from(jwk.x, 'base64url')), bigint(Buffer.from(jwk.y, 'base64url'))];
  const rs = derSignature(sig);
  if (!rs) return false;
  const [r, s] = rs;
  if (r < 1n || r >= n || s < 1n || s >= n) return false;
  const w = inv(s, n);
  const X = pointAdd(pointMul(mod(bigint(digest) * w, n), g), pointMul(mod(r * w, n), Q));
  return X !== null && mod(X[0], n) === r;
}

function verifierKey(v) {
  if (v?.verifier?.$case === 'x509Certificate') {
    return new crypto.X509Certificate(Buffer.from(v.verifier.x509Certificate.rawBytes)).publicKey;
  }
  if (v?.verifier?.$case === 'publicKey') {
    return crypto.createPublicKey({ key: Buffer.from(v.verifier.publicKey.rawBytes), format: 'der', type: 'spki' });
  }
  return null;
}

// Rekor v2 (POST /api/v2/log/entries). The mock's v2 handler logs the request itself as the
// entry body; real Rekor v2 logs a DSSELogEntryV002 / HashedRekordLogEntryV002 (payload hash or
// digest, signature, verifier) and answers with a TransparencyLogEntry. Build that body, check
// DSSE signatures the way Rekor does, and have the mock's log prove and checkpoint it.
function rekorV2Entry(tlog, raw, clock) {
  const req = rekorV2Types.CreateEntryRequest.fromJSON(JSON.parse(raw));
  let kind;
  let spec;
  if (req.spec?.$case === 'dsseRequestV002') {
    const { envelope, verifiers } = req.spec.dsseRequestV002;
    if (!envelope || envelope.signatures.length === 0) {
      throw new Error('dsse request without a signed envelope');
    }
    const message = pae(envelope.payloadType, Buffer.from(envelope.payload));
    const signatures = envelope.signatures.map((sig) => {
      const verifier = verifiers.find((v) => {
        const key = verifierKey(v);
        return key && crypto.verify('sha256', message, key, Buffer.from(sig.sig));
      });
      if (!verifier) {
        throw new Error('all signatures must have a key that verifies it');
      }
      return { content: Buffer.from(sig.sig), verifier };
    });
    kind = 'dsse';
    spec = {
      $case: 'dsseV002',
      dsseV002: { payloadHash: { algorithm: HashAlgorithm.SHA2_256, digest: sha256(Buffer.from(envelope.payload)) }, signatures },
    };
  } else if (req.spec?.$case === 'hashedRekordRequestV002') {
    const { digest, signature } = req.spec.hashedRekordRequestV002;
    if (!signature || digest.length !== 32) {
      throw new Error('hashedrekord request needs a sha256 digest and a signature');
    }
    const key = verifierKey(signature.verifier);
    if (!key || !verifyP256Prehash(key, digest, signature.content)) {
      throw new Error('signature does not verify against the digest');
    }
    kind = 'hashedrekord';
    spec = { $case: 'hashedRekordV002', hashedRekordV002: { data: { algorithm: HashAlgorithm.SHA2_256, digest }, signature } };
  } else {
    throw new Error('unsupported entry type');
  }
  const entry = rekorV2Types.Entry.toJSON({ kind, apiVersion: '0.0.2', spec: { spec } });
  const body = Buffer.from(canonicalize(entry));
  const logID = sha256(tlog.publicKey);
  const timestamp = Math.floor((clock ? clock.getTime() : Date.now()) / 1000);
  const proof = tlog.calculateInclusionProof({ body, timestamp, logID });
  const logIndex = crypto.randomInt(10_000_000);
  return JSON.stringify({
    logIndex: String(logIndex),
    logId: { keyId: b64(logID) },
    kindVersion: { kind, version: '0.0.2' },
    integratedTime: '0',
    inclusionProof: {
      logIndex: String(proof.logIndex),
      rootHash: b64(Buffer.from(proof.rootHash, 'hex')),
      treeSize: String(proof.treeSize),
      hashes: proof.hashes,
      checkpoint: { envelope: proof.checkpoint },
    },
    canonicalizedBody: b64(body),
  });
}

// Real Rekor names an entry by an 80-hex UUID (tree id + leaf hash) and ends its JSON with a
// newline; the mock uses 64 random hex digits.
function adaptRekorResponse(response, treeIdHex) {
  const parsed = JSON.parse(response);
  const out = {};
  for (const value of Object.values(parsed)) {
    const leaf = sha256(Buffer.concat([Buffer.from([0]), Buffer.from(value.body, 'base64')]));
    out[treeIdHex + leaf.toString('hex')] = value;
  }
  return JSON.stringify(out) + '\n';
}

// Real clients (sigstore-python) send an RFC 3161 TimeStampReq in DER; the mock handler only
// reads Sigstore TSA's JSON form. Parse the DER request and call the mock's TSA directly, keeping
// the request's full-size nonce (the mock would squeeze it into a JS number).
async function derTimestamp(tsa, raw) {
  const req = pkijs.TimeStampReq.fromBER(new Uint8Array(raw).buffer);
  const nonce = req.nonce ? new asn1js.Integer({ valueHex: req.nonce.valueBlock.valueHexView }) : undefined;
  const resp = await tsa.timestamp({
    artifactHash: Buffer.from(req.messageImprint.hashedMessage.valueBlock.valueHexView),
    hashAlgorithmOID: req.messageImprint.hashAlgorithm.algorithmId || OID_SHA256,
    nonceInteger: nonce,
    policyOID: req.reqPolicy || OID_TSA_POLICY,
    certReq: req.certReq ?? false,
  });
  return { statusCode: 200, response: resp, contentType: 'application/timestamp-reply' };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.outDir, { recursive: true });

  const server = http.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const baseUrl = `http://127.0.0.1:${port}`;

  const caKey = genKey();
  const ctKey = genKey();
  const tlogKey = genKey();
  const tsaKey = genKey();
  const rekorClock = opts.rekorTimeOffset !== 0 ? new Date(Date.now() + opts.rekorTimeOffset * 1000) : undefined;

  const ctlog = await mock.initializeCTLog(ctKey);
  const ca = await mock.initializeCA(caKey, ctlog);
  const tlog = await mock.initializeTLog(baseUrl, tlogKey, rekorClock);
  const tsa = await mock.initializeTSA(tsaKey);
  // Let a request carry its nonce as an ASN.1 integer of any size (see derTimestamp).
  const tstInfo = tsa.tstInfo.bind(tsa);
  tsa.tstInfo = (r) => {
    if (!r.nonceInteger) {
      return tstInfo(r);
    }
    const info = tstInfo({ ...r, nonce: 1 });
    info.nonce = r.nonceInteger;
    return info;
  };
  const fulcio = mock.fulcioHandler(ca);
  const rekor = mock.rekorHandler(tlog);
  const timestamp = mock.tsaHandler(tsa);
  const treeIdHex = crypto.randomBytes(8).toString('hex');

  // Trust material valid from a minute ago so that certificates issued right now fall inside.
  const start = new Date(Date.now() - 60_000).toISOString();
  const tlogSpki = spkiDer(tlogKey.publicKey);
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(tlogSpki), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: b64(sha256(tlogSpki)) },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: baseUrl,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor: { start },
    }],
    ctlogs: [{
      baseUrl,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: b64(ctlog.logID) },
    }],
    timestampAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'tsa' },
      uri: `${baseUrl}/api/v1/timestamp`,
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
      validFor: { start },
    }],
  };
  const signingConfig = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [{ url: baseUrl, majorApiVersion: 1, validFor: { start }, operator: 'sigstore.mock' }],
    oidcUrls: [],
    rekorTlogUrls: [
      ...(opts.rekorV2 ? [{ url: baseUrl, majorApiVersion: 2, validFor: { start }, operator: 'sigstore.mock' }] : []),
      { url: baseUrl, majorApiVersion: 1, validFor: { start }, operator: 'sigstore.mock' },
    ],
    tsaUrls: opts.tsa
      ? [{ url: `${baseUrl}/api/v1/timestamp`, majorApiVersion: 1, validFor: { start }, operator: 'sigstore.mock' }]
      : [],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };
  const trustConfig = {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot,
    signingConfig,
  };
  const write = (name, value) =>
    fs.writeFileSync(path.join(opts.outDir, name), JSON.stringify(value, null, 2) + '\n');
  write('trusted_root.json', trustedRoot);
  write('signing_config.json', signingConfig);
  write('trust_config.json', trustConfig);

  const routes = {
    [fulcio.path]: async (req, raw) => fulcio.fn(adaptFulcioRequest(req.headers, raw.toString('utf8'))),
    [rekor.path]: async (_req, raw) => {
      const res = await rekor.fn(adaptRekorRequest(raw.toString('utf8')));
      if (res.statusCode === 201) {
        res.response = adaptRekorResponse(res.response, treeIdHex);
      }
      return res;
    },
    '/api/v2/log/entries': async (_req, raw) => ({
      statusCode: 201,
      response: rekorV2Entry(tlog, raw.toString('utf8'), rekorClock),
      contentType: 'application/json',
    }),
    [timestamp.path]: async (req, raw) =>
      (req.headers['content-type'] || '').startsWith('application/timestamp-query')
        ? derTimestamp(tsa, raw)
        : timestamp.fn(raw.toString('utf8')),
  };

  server.on('request', async (req, res) => {
    const url = new URL(req.url, baseUrl);
    const route = routes[url.pathname];
    if (req.method !== 'POST' || !route) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end(`no route for ${req.method} ${url.pathname}\n`);
      return;
    }
    try {
      const raw = await readBody(req);
      const out = await route(req, raw);
      res.writeHead(out.statusCode, { 'Content-Type': out.contentType || 'text/plain' });
      res.end(typeof out.response === 'string' ? out.response : Buffer.from(out.response.buffer ?? out.response));
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end(`${e instanceof Error ? e.message : String(e)}\n`);
    }
  });

  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();

  process.stdout.write(`${baseUrl}\n`);
}

main().catch((e) => {
  process.stderr.write(`sigstore-instance: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
