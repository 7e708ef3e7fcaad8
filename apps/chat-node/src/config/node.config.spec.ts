import { loadNodeConfig } from './node.config';

const base = {
  CHAT_CURVE: 'off',
  CHAT_NODE_ID: 'n1',
  CHAT_MEMBERS: 'n0=127.0.0.1:7100,n1=127.0.0.1:7110,n2=10.0.0.3:7120',
};

describe('loadNodeConfig', () => {
  it('derives endpoints and defaults for any number of members', () => {
    const config = loadNodeConfig(base);
    expect(config.members.map((m) => m.id)).toEqual(['n0', 'n1', 'n2']);
    expect(config.self).toEqual({
      id: 'n1',
      rpc: 'tcp://127.0.0.1:7110',
      pub: 'tcp://127.0.0.1:7111',
    });
    expect(config.bindPub).toBe('tcp://127.0.0.1:7111');
    expect(config.synchronous).toBe('full');
    expect(loadNodeConfig({ ...base, CHAT_BIND_HOST: '0.0.0.0' }).bindRpc).toBe(
      'tcp://0.0.0.0:7110',
    );
    expect(
      loadNodeConfig({ ...base, CHAT_NODE_ID: 'solo', CHAT_MEMBERS: 'solo=localhost:9000' })
        .members,
    ).toHaveLength(1);
  });

  it.each([
    [{ CHAT_MEMBERS: '' }, 'CHAT_MEMBERS: is required'],
    [{ CHAT_MEMBERS: 'n0=localhost' }, 'CHAT_MEMBERS: entry "n0=localhost" is not id=host:port'],
    [{ CHAT_MEMBERS: 'n0=a:1,n0=b:2' }, 'CHAT_MEMBERS: node id "n0" appears twice'],
    [{ CHAT_MEMBERS: '__proto__=a:1' }, 'must be a letter'],
    [{ CHAT_NODE_ID: 'n7' }, 'CHAT_NODE_ID: "n7" is not in CHAT_MEMBERS (n0, n1, n2)'],
    [
      { CHAT_BUFFER_CAPACITY: 'lots' },
      'CHAT_BUFFER_CAPACITY: must be an integer from 1 to 10000000, got "lots"',
    ],
    [
      { CHAT_LINK_DROP_RATE: '1.5' },
      'CHAT_LINK_DROP_RATE: must be a number from 0 to 1, got "1.5"',
    ],
    [{ CHAT_SQLITE_SYNC: 'off' }, 'CHAT_SQLITE_SYNC: must be "full" or "normal"'],
  ])('rejects %j with a message naming the variable', (override, message) => {
    expect(() => loadNodeConfig({ ...base, ...override })).toThrow(message);
  });
});
