import { lastValueFrom } from 'rxjs';
import { Subscriber } from 'zeromq';
import {
  ConnectionAudit,
  CurveKeyError,
  generateCurveKeyPair,
  ZmqClient,
  ZmqRequestError,
} from '@app/zmq-transport';
import {
  call,
  closeAfterEach,
  failure,
  recordingRelay,
  startEchoServer,
  waitFor,
} from './support/zmq';

const server = generateCurveKeyPair();
const alice = generateCurveKeyPair();
const rogue = generateCurveKeyPair();

const portOf = (endpoint: string) => Number(endpoint.split(':').pop());

describe('ZeroMQ transport with CURVE (real sockets on loopback)', () => {
  const { cleanup, track } = closeAfterEach();
  const startCurveServer = async (audit = new ConnectionAudit()) => {
    const started = await startEchoServer({
      curve: { ...server, allow: { alice: alice.publicKey } },
      audit,
    });
    track(started.app);
    return { ...started, audit };
  };
  const client = (endpoint: string, options: Partial<ConstructorParameters<typeof ZmqClient>[0]>) =>
    track(new ZmqClient({ connect: endpoint, timeoutMs: 3000, connectTimeoutMs: 400, ...options }));

  it('answers an allowed key, and refuses an unknown key, a plaintext client and a wrong server key', async () => {
    const { endpoint, audit } = await startCurveServer();
    const allowed = client(endpoint, { curve: { ...alice, serverKey: server.publicKey } });
    expect(await call(allowed, 'sum', [1, 2])).toBe(3);

    const strangers = {
      'unknown CURVE key': client(endpoint, { curve: { ...rogue, serverKey: server.publicKey } }),
      'not a CURVE client': client(endpoint, {}),
      'expects another server key': client(endpoint, {
        curve: { ...alice, serverKey: rogue.publicKey },
      }),
    };
    for (const [reason, stranger] of Object.entries(strangers)) {
      const refused = await failure(call(stranger, 'sum', [1]));
      expect(refused).toBeInstanceOf(ZmqRequestError);
      expect((refused as ZmqRequestError).code).toBe('unreachable');
      await waitFor(() => audit.report().rejected.some((r) => r.reason.includes(reason)));
    }
    // libzmq retries a refused connection: one entry per peer and reason, the retries counted.
    await waitFor(() => audit.report().rejected.some((r) => r.attempts > 2), 5000);
    const report = audit.report();
    expect(report.curve).toBe(true);
    expect(report.admitted.map((peer) => peer.name)).toEqual(['alice']);
    const reasons = report.rejected.map((r) => r.reason);
    expect(new Set(reasons).size).toBe(reasons.length);
    expect(report.rejected.find((r) => r.reason.startsWith('unknown CURVE key'))!.address).toBe(
      '127.0.0.1',
    );
    expect(report.rejectedTotal).toBeGreaterThan(report.rejected.length);
    // The allowed client still works after all that.
    expect(await call(allowed, 'sum', [4, 5])).toBe(9);
  });

  it('admits a key added at run time and refuses it again once revoked, keeping the others', async () => {
    const { endpoint, server: zmqServer } = await startCurveServer();
    const allowed = client(endpoint, { curve: { ...alice, serverKey: server.publicKey } });
    const late = () => client(endpoint, { curve: { ...rogue, serverKey: server.publicKey } });
    expect(((await failure(call(late(), 'sum', [1]))) as ZmqRequestError).code).toBe('unreachable');

    zmqServer.setAllowed('bob', rogue.publicKey);
    expect(await call(late(), 'sum', [2, 3])).toBe(5);

    zmqServer.setAllowed('bob', undefined);
    expect(((await failure(call(late(), 'sum', [1]))) as ZmqRequestError).code).toBe('unreachable');
    expect(await call(allowed, 'sum', [1, 1])).toBe(2);
    expect(() => zmqServer.setAllowed('bob', 'not a key')).toThrow(CurveKeyError);
  });

  it('publishes only to allowed subscribers, and a subscriber only hears the publisher holding its server key', async () => {
    const publisherKeys = generateCurveKeyPair();
    const publisher = track(
      new ZmqClient({
        publish: 'tcp://127.0.0.1:*',
        curve: { ...publisherKeys, allow: { alice: alice.publicKey } },
      }),
    );
    await publisher.connect();
    const endpoint = publisher.publishEndpoint!;
    const listener = await startEchoServer({
      bind: undefined,
      curve: alice,
      subscribe: [{ endpoint, serverKey: publisherKeys.publicKey }],
    });
    track(listener.app);
    const eavesdropper = new Subscriber({
      curveServerKey: publisherKeys.publicKey,
      curvePublicKey: rogue.publicKey,
      curveSecretKey: rogue.secretKey,
      linger: 0,
    });
    const heard: string[] = [];
    eavesdropper.subscribe();
    eavesdropper.connect(endpoint);
    cleanup.push(async () => eavesdropper.close());
    void (async () => {
      try {
        for await (const [, payload] of eavesdropper) heard.push(payload.toString());
      } catch {
        // closed
      }
    })();

    await waitFor(() => {
      lastValueFrom(publisher.emit('note', { warmup: true })).catch(() => undefined);
      return listener.seen.events.length > 0;
    });
    for (let i = 0; i < 20; i++) await lastValueFrom(publisher.emit('note', { i }));
    await waitFor(() => listener.seen.events.some((e) => (e.data as { i?: number }).i === 19));
    expect(heard).toEqual([]);
    await waitFor(() => publisher.audit.report().rejected.length > 0);
    expect(publisher.audit.report().rejected[0].reason).toMatch(/unknown CURVE key/);

    // An impostor bound where the listener subscribes, with a key of its own: never heard.
    const impostorKeys = generateCurveKeyPair();
    const impostor = track(
      new ZmqClient({
        publish: 'tcp://127.0.0.1:*',
        curve: { ...impostorKeys, allow: { alice: alice.publicKey } },
      }),
    );
    await impostor.connect();
    const fooled = await startEchoServer({
      bind: undefined,
      curve: alice,
      subscribe: [{ endpoint: impostor.publishEndpoint!, serverKey: publisherKeys.publicKey }],
    });
    track(fooled.app);
    for (let i = 0; i < 20; i++) {
      await lastValueFrom(impostor.emit('note', { forged: i }));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(fooled.seen.events).toEqual([]);
    await waitFor(() => fooled.server.audit.report().rejected.length > 0);
    expect(fooled.server.audit.report().rejected[0].direction).toBe('out');
  });

  it('puts no text on the wire in clear (and the same relay does see it without CURVE)', async () => {
    const secret = 'the-cake-is-a-lie-4711';
    for (const encrypted of [true, false]) {
      const { endpoint } = encrypted
        ? await startCurveServer()
        : await startEchoServer().then((s) => (track(s.app), s));
      const relay = await recordingRelay(portOf(endpoint));
      cleanup.push(relay.close);
      const viaRelay = client(`tcp://127.0.0.1:${relay.port}`, {
        curve: encrypted ? { ...alice, serverKey: server.publicKey } : undefined,
      });
      expect(await call(viaRelay, 'echo', { secret })).toEqual({ secret });
      const wire = relay.bytes();
      expect(wire.length).toBeGreaterThan(100);
      expect(wire.includes(secret)).toBe(!encrypted);
    }
  });

  it('refuses bad key material before any socket exists, naming the field', async () => {
    const make = (curve: object) => () =>
      new ZmqClient({ connect: 'tcp://127.0.0.1:1', curve } as never);
    expect(make({ secretKey: 'short', serverKey: server.publicKey })).toThrow(
      /curve\.secretKey: a CURVE key is 40 characters of Z85 text, got 5/,
    );
    expect(
      make({ secretKey: `${alice.secretKey.slice(0, 39)}"`, serverKey: server.publicKey }),
    ).toThrow(/curve\.secretKey: """ at position 40 is not a Z85 character/);
    expect(make({ ...alice, publicKey: rogue.publicKey, serverKey: server.publicKey })).toThrow(
      /curve\.publicKey: is not the public key of curve\.secretKey/,
    );
    expect(make({ secretKey: alice.secretKey })).toThrow(
      /curve\.serverKey: is required with CURVE/,
    );
    expect(make({ secretKey: alice.secretKey, serverKey: 'x'.repeat(40) })).not.toThrow();
    expect(
      () =>
        new ZmqClient({
          publish: 'tcp://127.0.0.1:*',
          curve: { secretKey: alice.secretKey, allow: { bob: 'nope' } },
        }),
    ).toThrow(/curve\.allow\.bob: a CURVE key is 40 characters/);
    await expect(
      startEchoServer({ bind: undefined, curve: alice, subscribe: ['tcp://127.0.0.1:1'] }),
    ).rejects.toThrow(CurveKeyError);
  });
});
