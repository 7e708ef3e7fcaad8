import { Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CausalBuffer, CausalMessage } from './causal-buffer';
import { CausalModule } from './causal.module';
import { CAUSAL_BUFFER, CAUSAL_MEMBERS } from './causal.tokens';
import { VectorClock } from './vector-clock';

@Injectable()
class StoredClock {
  load() {
    return VectorClock.of({ n0: 4 });
  }
}

@Module({ providers: [StoredClock], exports: [StoredClock] })
class StorageModule {}

@Injectable()
class Consumer {
  constructor(
    @Inject(CAUSAL_BUFFER) readonly buffer: CausalBuffer<CausalMessage>,
    @Inject(CAUSAL_MEMBERS) readonly members: readonly string[],
  ) {}
}

describe('CausalModule', () => {
  it('provides one buffer and the members through DI', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CausalModule.forRoot({ nodeId: 'n1', members: ['n0', 'n1', 'n2'], capacity: 3 })],
      providers: [Consumer],
    }).compile();
    const consumer = moduleRef.get(Consumer);
    expect(consumer.members).toEqual(['n0', 'n1', 'n2']);
    expect(consumer.buffer).toBe(moduleRef.get(CAUSAL_BUFFER));
    expect(
      consumer.buffer.receive({ sender: 'n0', seq: 1, clock: VectorClock.of({ n0: 1 }) }),
    ).toHaveLength(1);
  });

  it('builds its options from injected providers with forRootAsync', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CausalModule.forRootAsync({
          imports: [StorageModule],
          inject: [StoredClock],
          useFactory: (stored: StoredClock) => ({
            nodeId: 'n0',
            members: ['n0', 'n1'],
            capacity: 10,
            initial: stored.load(),
          }),
        }),
      ],
      providers: [Consumer],
    }).compile();
    expect(moduleRef.get(Consumer).buffer.clock().toJSON()).toEqual({ n0: 4 });
  });

  it('fails at start-up with a clear message for a node that is not a member', () => {
    expect(() =>
      CausalModule.forRoot({ nodeId: 'n9', members: ['n0', 'n1'], capacity: 1 }),
    ).toThrow('CausalModule: nodeId n9 is not one of members n0, n1');
    expect(() =>
      CausalModule.forRoot({ nodeId: 'n0', members: ['n0', 'n0'], capacity: 1 }),
    ).toThrow(/duplicate id/);
  });
});
