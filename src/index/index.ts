/*
 * Stage 3 (index): escalated events → incidents, vector index, store; search; dead letters.
 *   createIndexStage(deps, cfg)   the Stage (start, close, routes, status, registry)
 *   openIndexBackends(cfg)        store + embedder + event index + incident provider from config
 *   startIndexService(cfg, log)   `riskpipe index-worker`: the above on a Redis bus, HTTP on :8003
 */
export { createIndexStage, INDEX_GROUP, type IndexDeps, type IndexStage, type IndexStageConfig } from './stage.js';
export { openIndexBackends, eventIndexDir, type IndexBackends, type IndexBackendsConfig } from './backends.js';
export { startIndexService, buildIndexApp, type IndexServiceConfig, type RunningIndex } from './service.js';
export { IndexProcessor, payloadOf, type IndexItem, type IndexOutput } from './processor.js';
export { SearchService, SearchRequest, SearchFilters, parseSince, type SearchResponse, type SearchResult } from './search.js';
export { indexRoutes, deadLetterJson } from './routes.js';
export { rebuildIndex } from './rebuild.js';
export * from './incidents/index.js';
