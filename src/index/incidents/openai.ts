import { z } from 'zod';
import { RiskpipeError } from '../../common/errors.js';
import { postJson, type RetryOptions } from '../../common/http-client.js';
import { INCIDENT_SEVERITIES, INCIDENT_TYPES, IncidentList, type Incident } from '../../models/index.js';
import { occursIn } from './evidence.js';
import type { IncidentInput, IncidentProvider } from './types.js';

/*
 * Incidents from any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, vLLM,
 * Ollama, LM Studio): one request per event, asking for JSON-schema structured output. An answer
 * that does not validate — not JSON, not the schema, evidence that is not in the message, a
 * refusal, a truncated answer — is an error (RP_ERR_UPSTREAM_INVALID: retried, then
 * dead-lettered), never a silent empty list.
 */

export interface OpenAIIncidentOptions extends RetryOptions {
  /** Base URL including the version path, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Events asked about at once. Default 4. */
  concurrency?: number;
  /** Extra headers, e.g. Azure's api-key. */
  headers?: Record<string, string>;
}

export const INCIDENT_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['incidents'],
  properties: {
    incidents: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'description', 'target', 'severity', 'confidence', 'evidence'],
        properties: {
          type: { type: 'string', enum: [...INCIDENT_TYPES] },
          description: { type: 'string' },
          target: { type: ['string', 'null'] },
          severity: { type: 'string', enum: [...INCIDENT_SEVERITIES] },
          confidence: { type: 'number' },
          evidence: { type: 'string' },
        },
      },
    },
  },
} as const;

const SYSTEM_PROMPT = `You are a trust & safety analyst. You receive one chat message that an automatic screener escalated, with the screener's verdict.
List the distinct policy incidents in the message. For each: type (${INCIDENT_TYPES.join(', ')}), a one-sentence description, the target (an @handle, "reader", "self", a group, or null), severity (${INCIDENT_SEVERITIES.join(', ')}), your confidence 0-1, and evidence: the exact span of the message it rests on, copied verbatim.
If the message holds no incident after all, return an empty list. Answer with JSON only.`;

const ChatAnswer = z.object({
  choices: z
    .array(
      z.object({
        finish_reason: z.string().nullish(),
        message: z.object({ content: z.string().nullish(), refusal: z.string().nullish() }),
      }),
    )
    .min(1),
});

const invalid = (msg: string) => new RiskpipeError('RP_ERR_UPSTREAM_INVALID', msg);

/** Checks one chat-completions answer and returns its incidents; throws RP_ERR_UPSTREAM_INVALID. */
export function parseIncidentAnswer(body: unknown, content: string): Incident[] {
  const answer = ChatAnswer.safeParse(body);
  if (!answer.success) throw invalid(`the incident LLM's answer is not a chat completion: ${answer.error.issues[0]?.message}`);
  const choice = answer.data.choices[0];
  if (choice.message.refusal) throw invalid(`the incident LLM refused: ${choice.message.refusal.slice(0, 200)}`);
  if (choice.finish_reason === 'length') throw invalid('the incident LLM answer was cut off (finish_reason "length")');
  const text = choice.message.content ?? '';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid(`the incident LLM did not answer JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const parsed = z.object({ incidents: IncidentList }).safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw invalid(`the incident LLM's JSON does not match the incident schema: ${i?.path.join('.')}: ${i?.message}`);
  }
  for (const inc of parsed.data.incidents) {
    if (!occursIn(content, inc.evidence)) throw invalid(`the incident LLM cited evidence that is not in the message: ${JSON.stringify(inc.evidence.slice(0, 120))}`);
  }
  return parsed.data.incidents;
}

export class OpenAIIncidentProvider implements IncidentProvider {
  readonly id: string;
  private readonly url: string;
  private lastState = 'not called yet';

  constructor(private readonly opts: OpenAIIncidentOptions) {
    this.id = `openai:${opts.model}`;
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  private async one({ event, prediction }: IncidentInput): Promise<Incident[]> {
    const verdict = {
      risk_score: prediction.risk_score,
      risk_level: prediction.risk_level,
      risk_category: prediction.risk_category,
      flags: prediction.flags,
      reason: prediction.details.reason,
    };
    const body = await postJson({
      url: this.url,
      what: `incident LLM (${this.opts.model} at ${this.opts.baseUrl})`,
      headers: { ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}), ...this.opts.headers },
      body: {
        model: this.opts.model,
        temperature: 0,
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: JSON.stringify({ platform: event.platform, message: event.content, verdict }) },
        ],
        response_format: { type: 'json_schema', json_schema: { name: 'incidents', strict: true, schema: INCIDENT_JSON_SCHEMA } },
      },
      timeoutMs: this.opts.timeoutMs,
      maxRetries: this.opts.maxRetries,
      baseDelayMs: this.opts.baseDelayMs,
      maxDelayMs: this.opts.maxDelayMs,
      sleep: this.opts.sleep,
    });
    return parseIncidentAnswer(body, event.content);
  }

  async generate(items: IncidentInput[]): Promise<(Incident[] | Error)[]> {
    const out: (Incident[] | Error)[] = new Array(items.length);
    let next = 0;
    const lanes = Array.from({ length: Math.min(items.length, this.opts.concurrency ?? 4) }, async () => {
      while (next < items.length) {
        const i = next++;
        try {
          out[i] = await this.one(items[i]);
          this.lastState = 'ok';
        } catch (err) {
          out[i] = err as Error;
          this.lastState = `failing: ${(err as Error).message.slice(0, 200)}`;
        }
      }
    });
    await Promise.all(lanes);
    return out;
  }

  state() {
    return { kind: 'openai', model: this.opts.model, url: this.opts.baseUrl, state: this.lastState };
  }

  async close(): Promise<void> {}
}
