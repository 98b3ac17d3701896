import { z } from 'zod';

export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export const IncidentSeverity = z.enum(INCIDENT_SEVERITIES);
export type IncidentSeverity = z.infer<typeof IncidentSeverity>;

/** Incident types: the risk categories an incident can be about, plus a catch-all. */
export const INCIDENT_TYPES = ['spam', 'toxic', 'targeted_harassment', 'hate_speech', 'threat', 'self_harm', 'sexual_content', 'scam', 'other'] as const;
export const IncidentType = z.enum(INCIDENT_TYPES);
export type IncidentType = z.infer<typeof IncidentType>;

/**
 * One structured incident derived from an escalated event (stage 3). `evidence` is the span of
 * the message the incident rests on, verbatim.
 */
export const Incident = z.object({
  type: IncidentType,
  description: z.string().min(1).max(2000),
  /** Who or what it is aimed at: "reader", "@alice", "self", a group, or null when nobody in particular. */
  target: z.string().max(500).nullable(),
  severity: IncidentSeverity,
  confidence: z.number().min(0).max(1),
  evidence: z.string().min(1).max(2000),
});
export type Incident = z.infer<typeof Incident>;

export const IncidentList = z.array(Incident).max(20);
