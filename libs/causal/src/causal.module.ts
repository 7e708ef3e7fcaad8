import { DynamicModule, FactoryProvider, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { CausalBuffer, CausalMessage } from './causal-buffer';
import { CAUSAL_BUFFER, CAUSAL_MEMBERS, CAUSAL_OPTIONS } from './causal.tokens';
import { VectorClock } from './vector-clock';

export interface CausalModuleOptions {
  /** This replica's id; must be one of `members`. */
  readonly nodeId: string;
  /** Every replica id, in the order clocks are shown (`[1,0,0]`). */
  readonly members: readonly string[];
  /** Hold-back queue capacity. */
  readonly capacity: number;
  /** How far an arriving clock entry may run ahead of ours before it is refused. */
  readonly maxAhead?: number;
  /** Delivered counts to resume from, e.g. reloaded from storage after a restart. */
  readonly initial?: VectorClock;
}

export interface CausalModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly inject?: FactoryProvider['inject'];
  readonly useFactory: (...args: never[]) => CausalModuleOptions | Promise<CausalModuleOptions>;
}

function validate(options: CausalModuleOptions): CausalModuleOptions {
  if (options.members.length === 0) throw new Error('CausalModule: members must not be empty');
  if (new Set(options.members).size !== options.members.length) {
    throw new Error(`CausalModule: members contain a duplicate id: ${options.members.join(', ')}`);
  }
  if (!options.members.includes(options.nodeId)) {
    throw new Error(
      `CausalModule: nodeId ${options.nodeId} is not one of members ${options.members.join(', ')}`,
    );
  }
  return options;
}

const derived: Provider[] = [
  {
    provide: CAUSAL_BUFFER,
    inject: [CAUSAL_OPTIONS],
    useFactory: (options: CausalModuleOptions) =>
      new CausalBuffer<CausalMessage>({
        nodeId: options.nodeId,
        capacity: options.capacity,
        maxAhead: options.maxAhead,
        initial: options.initial,
      }),
  },
  {
    provide: CAUSAL_MEMBERS,
    inject: [CAUSAL_OPTIONS],
    useFactory: (options: CausalModuleOptions): readonly string[] => options.members,
  },
];

/** Provides one replica's hold-back buffer (which owns its delivery clock) through DI. */
@Module({})
export class CausalModule {
  static forRoot(options: CausalModuleOptions): DynamicModule {
    return {
      module: CausalModule,
      providers: [{ provide: CAUSAL_OPTIONS, useValue: validate(options) }, ...derived],
      exports: [CAUSAL_OPTIONS, CAUSAL_BUFFER, CAUSAL_MEMBERS],
    };
  }

  /** For options that come from ConfigService or storage. */
  static forRootAsync(options: CausalModuleAsyncOptions): DynamicModule {
    return {
      module: CausalModule,
      imports: options.imports ?? [],
      providers: [
        {
          provide: CAUSAL_OPTIONS,
          inject: options.inject ?? [],
          useFactory: async (...args: never[]) => validate(await options.useFactory(...args)),
        },
        ...derived,
      ],
      exports: [CAUSAL_OPTIONS, CAUSAL_BUFFER, CAUSAL_MEMBERS],
    };
  }
}
