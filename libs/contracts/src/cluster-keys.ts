import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  CurveKeyError,
  CurveKeyPair,
  generateCurveKeyPair,
  parseCurveKey,
  parseCurveKeyPair,
  ZmqCurveOptions,
} from '@app/zmq-transport';
import type { Env } from './env';
import { ConfigError, NODE_ID_PATTERN } from './members';

/**
 * The CURVE keys one process runs with: its own pair and the public key of every process
 * it may talk to (the cluster's members, its gateways), by name.
 */
export interface ClusterKeys {
  readonly name: string;
  readonly self: CurveKeyPair;
  /** name -> public key; a node admits exactly these. */
  readonly publicKeys: Readonly<Record<string, string>>;
}

const HOW_TO_CONFIGURE =
  'set CHAT_KEYS_DIR (npm start makes one under ./data/keys) or CHAT_SECRET_KEY and CHAT_PUBLIC_KEYS, or CHAT_CURVE=off to run unencrypted';

/** Reads a key file; a CurveKeyError or ConfigError names the file. */
function readKey(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, `cannot be read (${(error as Error).message})`);
  }
}

function asConfigError(error: unknown): never {
  if (error instanceof CurveKeyError) throw new ConfigError(error.field, error.reason);
  throw error;
}

/** `name=key,name=key` from CHAT_PUBLIC_KEYS. */
function parsePublicKeyList(value: string): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const entry of value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const at = entry.indexOf('=');
    const name = at > 0 ? entry.slice(0, at) : '';
    if (!NODE_ID_PATTERN.test(name))
      throw new ConfigError(
        'CHAT_PUBLIC_KEYS',
        `entry "${entry.slice(0, 20)}…" is not name=<Z85 public key>`,
      );
    keys[name] = parseCurveKey(entry.slice(at + 1), `CHAT_PUBLIC_KEYS (${name})`);
  }
  return keys;
}

/**
 * Loads this process's CURVE keys, or undefined when `CHAT_CURVE=off`. Keys come from
 * `CHAT_KEYS_DIR` (`<name>.key` for this process's secret key, `<name>.pub` for everyone's
 * public key) and from `CHAT_SECRET_KEY` / `CHAT_PUBLIC_KEYS` (`name=key,…`), which take
 * precedence. Every name in `required` must have a public key. Anything missing or
 * malformed is a {@link ConfigError} naming the variable or file: a process never starts
 * half-secured.
 */
export function loadClusterKeys(
  env: Env,
  name: string,
  required: readonly string[],
): ClusterKeys | undefined {
  const mode = (env.CHAT_CURVE ?? 'on').toLowerCase();
  if (mode === 'off') return undefined;
  if (mode !== 'on')
    throw new ConfigError('CHAT_CURVE', `must be "on" or "off", got "${env.CHAT_CURVE}"`);
  const dir = env.CHAT_KEYS_DIR || undefined;
  if (!dir && !env.CHAT_SECRET_KEY)
    throw new ConfigError(
      'CHAT_CURVE',
      `is on (the default) but no keys are configured: ${HOW_TO_CONFIGURE}`,
    );
  try {
    const publicKeys: Record<string, string> = {};
    if (dir) {
      if (!existsSync(dir) || !statSync(dir).isDirectory())
        throw new ConfigError('CHAT_KEYS_DIR', `"${dir}" is not a directory`);
      for (const file of readdirSync(dir).sort()) {
        const match = /^(.+)\.pub$/.exec(file);
        if (!match || !NODE_ID_PATTERN.test(match[1])) continue;
        const path = join(dir, file);
        publicKeys[match[1]] = parseCurveKey(readKey(path), path);
      }
    }
    if (env.CHAT_PUBLIC_KEYS) Object.assign(publicKeys, parsePublicKeyList(env.CHAT_PUBLIC_KEYS));

    const secretPath = dir ? join(dir, `${name}.key`) : undefined;
    let secretKey: string;
    let secretField: string;
    if (env.CHAT_SECRET_KEY) {
      secretKey = env.CHAT_SECRET_KEY;
      secretField = 'CHAT_SECRET_KEY';
    } else if (secretPath && existsSync(secretPath)) {
      secretKey = readKey(secretPath);
      secretField = secretPath;
    } else {
      throw new ConfigError('CHAT_KEYS_DIR', `no secret key for ${name}: expected ${secretPath}`);
    }
    const own = publicKeys[name];
    const self = parseCurveKeyPair(secretKey, own, {
      secret: secretField,
      public:
        dir && existsSync(join(dir, `${name}.pub`))
          ? join(dir, `${name}.pub`)
          : `public key of ${name}`,
    });
    publicKeys[name] = self.publicKey;
    const missing = required.filter((id) => !publicKeys[id]);
    if (missing.length > 0)
      throw new ConfigError(
        dir ? 'CHAT_KEYS_DIR' : 'CHAT_PUBLIC_KEYS',
        `no public key for ${missing.join(', ')}${dir ? ` (expected ${missing.map((id) => join(dir, `${id}.pub`)).join(', ')})` : ''}`,
      );
    return { name, self, publicKeys };
  } catch (error) {
    return asConfigError(error);
  }
}

/** A Z85 public key from a variable; a bad one is a ConfigError naming it. */
export function parseCurveKeyOrConfigError(value: string, variable: string): string {
  try {
    return parseCurveKey(value.trim(), variable);
  } catch (error) {
    return asConfigError(error);
  }
}

/** CURVE options for a socket that connects to `server` (a DEALER or SUB). */
export function curveClient(keys: ClusterKeys, server: string): ZmqCurveOptions {
  return { ...keys.self, serverKey: keys.publicKeys[server] };
}

/** CURVE options for a socket that admits every known process (a node's ROUTER and PUB). */
export function curveServer(keys: ClusterKeys): ZmqCurveOptions {
  const allow: Record<string, string> = {};
  for (const [name, key] of Object.entries(keys.publicKeys))
    if (name !== keys.name) allow[name] = key;
  return { ...keys.self, allow };
}

/**
 * Creates what is missing of a keys directory: a key pair for each name (`<name>.key`, mode
 * 0600, and `<name>.pub`), the directory itself mode 0700. Existing keys are kept. Returns
 * the names it made keys for.
 */
export function ensureClusterKeys(dir: string, names: readonly string[]): string[] {
  const invalid = names.filter((name) => !NODE_ID_PATTERN.test(name));
  if (invalid.length > 0)
    throw new ConfigError(
      'keys',
      `${invalid.map((name) => `"${name}"`).join(', ')}: a name is a letter then up to 31 letters, digits, _ or -`,
    );
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const created: string[] = [];
  for (const name of names) {
    if (existsSync(join(dir, `${name}.key`))) continue;
    const pair = generateCurveKeyPair();
    writeFileSync(join(dir, `${name}.key`), `${pair.secretKey}\n`, { mode: 0o600 });
    writeFileSync(join(dir, `${name}.pub`), `${pair.publicKey}\n`, { mode: 0o644 });
    created.push(name);
  }
  return created;
}
