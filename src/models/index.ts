export * from './event.js';
export * from './risk.js';
export * from './stream.js';
export * from './ingest.js';
export * from './incident.js';
