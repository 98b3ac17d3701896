import { streamNames } from '../../src/stream/index.js';

/*
 * The stream names the services use under a prefix, from the project's one key builder, so these
 * tests read the same entries the services wrote.
 */
export const rawStream = (prefix: string): string => streamNames(prefix).raw;
export const reasoningStream = (prefix: string): string => streamNames(prefix).reasoning;
export const lowRiskStream = (prefix: string): string => streamNames(prefix).lowRisk;
