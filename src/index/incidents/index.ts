import { OpenAIIncidentProvider, type OpenAIIncidentOptions } from './openai.js';
import { RulesIncidentProvider } from './rules.js';
import type { IncidentProvider } from './types.js';

export * from './types.js';
export { RulesIncidentProvider, rulesIncidents } from './rules.js';
export { OpenAIIncidentProvider, parseIncidentAnswer, INCIDENT_JSON_SCHEMA, type OpenAIIncidentOptions } from './openai.js';

export type IncidentProviderConfig = { kind: 'rules' } | ({ kind: 'openai' } & OpenAIIncidentOptions);

export function createIncidentProvider(cfg: IncidentProviderConfig): IncidentProvider {
  return cfg.kind === 'rules' ? new RulesIncidentProvider() : new OpenAIIncidentProvider(cfg);
}
