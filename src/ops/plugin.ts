// The ops routes (/health, /ready, /metrics, /v1/metrics from each stage's status) live in
// src/common/ so that stages can mount them without importing src/ops (arrows never run upward).
export { opsRoutes, type OpsPluginOptions } from '../common/ops-routes.js';
export { buildStagesApp, type StagesAppOptions } from '../common/stages-app.js';
