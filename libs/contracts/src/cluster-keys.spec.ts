import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCurveKeyPair } from '@app/zmq-transport';
import { curveServer, ensureClusterKeys, loadClusterKeys } from './cluster-keys';

describe('cluster keys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keys-'));
    ensureClusterKeys(dir, ['n0', 'n1', 'gateway']);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const read = (file: string) => readFileSync(join(dir, file), 'utf8').trim();

  it('makes a keys directory once: secret keys 0600, the directory 0700, existing keys kept', () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'n0.key')).mode & 0o777).toBe(0o600);
    const before = read('n0.key');
    expect(ensureClusterKeys(dir, ['n0', 'n1', 'gateway', 'n2'])).toEqual(['n2']);
    expect(read('n0.key')).toBe(before);
  });

  it('loads its own pair and everyone public key; a node admits all but itself', () => {
    const keys = loadClusterKeys({ CHAT_KEYS_DIR: dir }, 'n0', ['n0', 'n1'])!;
    expect(keys.self).toEqual({ secretKey: read('n0.key'), publicKey: read('n0.pub') });
    expect(Object.keys(keys.publicKeys).sort()).toEqual(['gateway', 'n0', 'n1']);
    expect(Object.keys(curveServer(keys).allow!).sort()).toEqual(['gateway', 'n1']);
    expect(
      loadClusterKeys({ CHAT_CURVE: 'off', CHAT_KEYS_DIR: dir }, 'n0', ['n0']),
    ).toBeUndefined();
  });

  it('takes keys from environment variables, before the files', () => {
    const extra = generateCurveKeyPair();
    const keys = loadClusterKeys(
      {
        CHAT_SECRET_KEY: read('n1.key'),
        CHAT_PUBLIC_KEYS: `n0=${read('n0.pub')}, tool=${extra.publicKey}`,
      },
      'n1',
      ['n0', 'n1'],
    )!;
    expect(keys.publicKeys).toEqual({
      n0: read('n0.pub'),
      tool: extra.publicKey,
      n1: read('n1.pub'),
    });
  });

  it.each([
    ['no keys at all', {}, 'CHAT_CURVE: is on (the default) but no keys are configured'],
    ['CHAT_CURVE=maybe', { CHAT_CURVE: 'maybe' }, 'CHAT_CURVE: must be "on" or "off", got "maybe"'],
    [
      'a missing directory',
      { CHAT_KEYS_DIR: '/nonexistent/keys' },
      'CHAT_KEYS_DIR: "/nonexistent/keys" is not a directory',
    ],
    [
      'a bad inline secret',
      { CHAT_SECRET_KEY: 'abc' },
      'CHAT_SECRET_KEY: a CURVE key is 40 characters of Z85 text, got 3',
    ],
    [
      'a bad inline list',
      { CHAT_SECRET_KEY: generateCurveKeyPair().secretKey, CHAT_PUBLIC_KEYS: 'n0' },
      'CHAT_PUBLIC_KEYS: entry "n0…" is not name=<Z85 public key>',
    ],
  ])('refuses %s, naming the variable', (_case, env, message) => {
    expect(() => loadClusterKeys(env, 'n0', ['n0'])).toThrow(message);
  });

  it('refuses bad key files, naming the file', () => {
    writeFileSync(join(dir, 'n1.pub'), 'too-short\n');
    expect(() => loadClusterKeys({ CHAT_KEYS_DIR: dir }, 'n0', ['n0', 'n1'])).toThrow(
      `${join(dir, 'n1.pub')}: a CURVE key is 40 characters of Z85 text, got 9`,
    );
    writeFileSync(join(dir, 'n1.pub'), `${generateCurveKeyPair().publicKey}\n`);
    expect(() => loadClusterKeys({ CHAT_KEYS_DIR: dir }, 'n1', ['n0', 'n1'])).toThrow(
      `${join(dir, 'n1.pub')}: is not the public key of ${join(dir, 'n1.key')}`,
    );
    writeFileSync(join(dir, 'n0.key'), `${'~'.repeat(40)}\n`);
    expect(() => loadClusterKeys({ CHAT_KEYS_DIR: dir }, 'n0', ['n0'])).toThrow(
      `${join(dir, 'n0.key')}: "~" at position 1 is not a Z85 character`,
    );
    expect(() => loadClusterKeys({ CHAT_KEYS_DIR: dir }, 'n7', ['n7'])).toThrow(
      `CHAT_KEYS_DIR: no secret key for n7: expected ${join(dir, 'n7.key')}`,
    );
    expect(() => loadClusterKeys({ CHAT_KEYS_DIR: dir }, 'gateway', ['n0', 'n2', 'n3'])).toThrow(
      `CHAT_KEYS_DIR: no public key for n2, n3 (expected ${join(dir, 'n2.pub')}, ${join(dir, 'n3.pub')})`,
    );
  });
});
