import type { Event, Incident, RiskPrediction } from '../../models/index.js';

/** An escalated event as the incident providers see it. */
export interface IncidentInput {
  event: Event;
  prediction: RiskPrediction;
}

/**
 * Task A of stage 3: structured incidents from an event and its verdict. Providers: `rules`
 * (rules.ts, offline, the default) and `openai` (openai.ts, any OpenAI-compatible endpoint).
 */
export interface IncidentProvider {
  /** Recorded with every incident, e.g. "rules" or "openai:gpt-4o-mini". */
  readonly id: string;
  /**
   * One result per input, in order: the incidents, or the error that kept this one from getting
   * them (a RiskpipeError saying whether a retry can help). One bad answer fails one event, not
   * the batch.
   */
  generate(items: IncidentInput[]): Promise<(Incident[] | Error)[]>;
  /** For /health: what it is and whether it was reachable lately. */
  state(): { kind: string; model?: string; url?: string; state: string };
  close(): Promise<void>;
}
