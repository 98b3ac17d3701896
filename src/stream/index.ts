/*
 * src/stream: the bus every stage stands on. Import from here:
 *   types      the contract (Bus, GroupRef, SettleItem, BatchStatus, DeadLetterTools, Processor, …)
 *   keys       createKeys: every Redis key and stream name, built once from the prefix
 *   createBus  a RedisBus or a MemoryBus from a BusConfig
 *   Consumer   the generic at-least-once consumer (join, recover, claim, read, settle, dead-letter, close)
 */
export * from './types.js';
export * from './keys.js';
export { contentHash } from './hash.js';
export { queueFullError } from './util.js';
export { createBus, type BusConfig } from './create.js';
export { Consumer, defaultConsumerName, type ConsumerOptions, type ConsumerHooks } from './consumer.js';
