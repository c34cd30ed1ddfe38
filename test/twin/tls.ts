/**
 * A loopback TLS identity for the twin's own endpoints that AWS serves over HTTPS only (the
 * presigned S3 ResponseURL of custom resources). Functions trust it through NODE_EXTRA_CA_CERTS,
 * the way a Lambda trusts Amazon's CAs: the product keeps refusing plain-HTTP response URLs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const DIR = path.resolve(__dirname, '..', '..', 'node_modules', '.cache', 'rekey-twin', 'tls');

/** The certificate (PEM path and contents) and its key, made once per checkout with openssl. */
export interface TwinTls {
  readonly certPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * Returns the twin's self-signed certificate for 127.0.0.1, creating it on first use.
 *
 * @example
 * const { cert, key } = twinTls(); https.createServer({ cert, key }, handler);
 */
export function twinTls(): TwinTls {
  const certPath = path.join(DIR, 'cert.pem');
  const keyPath = path.join(DIR, 'key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(DIR, { recursive: true });
    const tmp = `${process.pid}-${Date.now()}`;
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', `${keyPath}.${tmp}`, '-out', `${certPath}.${tmp}`,
    ], { stdio: 'ignore' });
    execFileSync('mv', [`${keyPath}.${tmp}`, keyPath]);
    execFileSync('mv', [`${certPath}.${tmp}`, certPath]);
  }
  return { certPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}
