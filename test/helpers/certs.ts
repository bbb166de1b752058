// Test PKI: a throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it. EC P-256 keys
// keep generation in the milliseconds, so every test can make its own.
import { generate } from 'selfsigned';

export interface TestCa {
  /** CA certificate (PEM): what a client trusts (`ca:` / `--ca-file`). */
  cert: string;
  key: string;
}

export interface TestServerCert {
  cert: string;
  key: string;
}

export interface TestPki {
  ca: TestCa;
  server: TestServerCert;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const EC_P256 = { keyType: 'ec' as const, curve: 'P-256' as const };
const RSA_2048 = { keyType: 'rsa' as const, keySize: 2048 };

/** A throwaway CA; its key is EC P-256 unless `keyType` says RSA (selfsigned signs with the CA's key type). */
export async function generateTestCa(
  commonName = 'osmo-node-validator test CA',
  keyType: 'ec' | 'rsa' = 'ec',
): Promise<TestCa> {
  const notBeforeDate = new Date(Date.now() - DAY_MS);
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    ...(keyType === 'rsa' ? RSA_2048 : EC_P256),
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 30 * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export interface ServerCertOptions {
  commonName?: string;
  dnsNames?: string[];
  ips?: string[];
  /**
   * The server key: EC P-256 (default, fast) or RSA 2048 (for the `ECDHE-RSA-*` and `RSA` cipher suites;
   * the CA must then be an RSA one too).
   */
  keyType?: 'ec' | 'rsa';
}

/** A serving certificate signed by `ca`, valid for 127.0.0.1, ::1 and localhost unless told otherwise. */
export async function generateServerCert(
  ca: TestCa,
  options: ServerCertOptions = {},
): Promise<TestServerCert> {
  const dnsNames = options.dnsNames ?? ['localhost'];
  const ips = options.ips ?? ['127.0.0.1', '::1'];
  const notBeforeDate = new Date(Date.now() - DAY_MS);
  const key = options.keyType === 'rsa' ? RSA_2048 : EC_P256;
  const pems = await generate([{ name: 'commonName', value: options.commonName ?? 'localhost' }], {
    ...key,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 7 * DAY_MS),
    ca: { cert: ca.cert, key: ca.key },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...dnsNames.map((value) => ({ type: 2 as const, value })),
          ...ips.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** A fresh CA plus a server certificate for 127.0.0.1/localhost signed by it. */
export async function generateTestPki(options: ServerCertOptions = {}): Promise<TestPki> {
  const ca = await generateTestCa();
  const server = await generateServerCert(ca, options);
  return { ca, server };
}
