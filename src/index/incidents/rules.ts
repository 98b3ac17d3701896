import type { Incident, IncidentSeverity, IncidentType, RiskPrediction } from '../../models/index.js';
import { bestSentence, findSpan, quotedPhrases } from './evidence.js';
import type { IncidentInput, IncidentProvider } from './types.js';

/*
 * The offline incident provider: incidents derived from the verdict alone. Each rule signal of
 * the prediction that found something (value ≥ MIN_SIGNAL) becomes one incident of its category,
 * citing the span of the message its phrases matched; a verdict resting only on similarity to
 * known abuse gets one incident of its category citing the closest sentence. Deterministic: the
 * same verdict always gives the same incidents.
 */

/** A rule signal must be at least this strong to become an incident of its own. */
const MIN_SIGNAL = 0.3;

const TYPE_OF_CATEGORY: Record<RiskPrediction['risk_category'], IncidentType> = {
  low_risk: 'other',
  spam: 'spam',
  toxic: 'toxic',
  targeted_harassment: 'targeted_harassment',
  hate_speech: 'hate_speech',
  threat: 'threat',
  self_harm: 'self_harm',
  sexual_content: 'sexual_content',
};

const DESCRIPTION: Record<IncidentType, string> = {
  threat: 'Threat of violence or harm',
  self_harm: 'Self-harm or suicidal ideation: the author may be at risk',
  hate_speech: 'Hateful language against a group',
  targeted_harassment: 'Harassment aimed at a person',
  sexual_content: 'Unwanted sexual content or sexual harassment',
  toxic: 'Abusive or offensive language',
  spam: 'Spam or scam promotion',
  scam: 'Scam or phishing attempt',
  other: 'Escalated by similarity to known abuse',
};

/** Categories where harm to a person is at stake rank one step more severe. */
const GRAVE = new Set<IncidentType>(['threat', 'self_harm', 'hate_speech']);

function severity(type: IncidentType, level: RiskPrediction['risk_level'], strength: number): IncidentSeverity {
  const base: IncidentSeverity = level === 'HIGH' ? 'high' : level === 'MEDIUM' ? 'medium' : 'low';
  if (GRAVE.has(type) && base === 'high' && strength >= 0.8) return 'critical';
  if (GRAVE.has(type) && base === 'low') return 'medium';
  return base;
}

function target(type: IncidentType, content: string, prediction: RiskPrediction): string | null {
  if (type === 'self_harm') return 'self';
  const mention = /(^|\s)@([A-Za-z0-9_.-]{1,64})/.exec(content);
  if (mention) return `@${mention[2]}`;
  const t = prediction.details.signals.targeting?.evidence ?? [];
  if (t.some((e) => e.includes('second-person')) || prediction.flags.includes('targeted_language')) return 'reader';
  return null;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function rulesIncidents({ event, prediction }: IncidentInput): Incident[] {
  const content = event.content;
  const out: Incident[] = [];
  const seen = new Set<IncidentType>();
  const rule = Object.entries(prediction.details.signals)
    .filter(([name, s]) => s.category && s.category !== 'low_risk' && name !== 'similarity' && s.value >= MIN_SIGNAL)
    .sort((a, b) => b[1].value - a[1].value);
  for (const [, s] of rule) {
    const type = TYPE_OF_CATEGORY[s.category!];
    if (seen.has(type)) continue;
    seen.add(type);
    const phrases = quotedPhrases(s.evidence ?? []);
    const spans = phrases.map((p) => findSpan(content, p)).filter((x): x is string => !!x);
    // The longest matched span says most; several phrases often overlap ("watch your back").
    const evidence = spans.sort((a, b) => b.length - a.length)[0] ?? bestSentence(content, phrases.flatMap((p) => p.split(/\s+/)));
    const why = phrases.length > 0 ? ` (matched ${phrases.slice(0, 3).map((p) => JSON.stringify(p)).join(', ')})` : '';
    out.push({
      type,
      description: `${DESCRIPTION[type]}${why}`,
      target: target(type, content, prediction),
      severity: severity(type, prediction.risk_level, s.value),
      confidence: round(Math.min(1, s.value * (type === TYPE_OF_CATEGORY[prediction.risk_category] ? Math.max(prediction.confidence, 0.5) : 0.8))),
      evidence,
    });
  }
  if (out.length === 0) {
    // Escalated without a rule of its own: by similarity, author behaviour or amplifiers.
    const type = TYPE_OF_CATEGORY[prediction.risk_category];
    const near = prediction.details.neighbors.find((n) => n.label === prediction.risk_category && n.text);
    out.push({
      type,
      description: `${DESCRIPTION[type]}: ${prediction.details.reason}`.slice(0, 2000),
      target: target(type, content, prediction),
      severity: severity(type, prediction.risk_level, prediction.risk_score),
      confidence: round(prediction.confidence * 0.7),
      evidence: bestSentence(content, near?.text?.split(/\s+/) ?? []),
    });
  }
  return out;
}

export class RulesIncidentProvider implements IncidentProvider {
  readonly id = 'rules';
  async generate(items: IncidentInput[]): Promise<Incident[][]> {
    return items.map(rulesIncidents);
  }
  state() {
    return { kind: 'rules', state: 'ok' };
  }
  async close(): Promise<void> {}
}
