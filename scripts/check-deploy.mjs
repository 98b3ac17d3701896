// Structural checks of the deployment files that no off-the-shelf linter makes (run by
// scripts/validate-deploy.sh after `docker-compose config`):
//  - the Grafana dashboard against a JSON schema (ajv), its datasources against the provisioned ones
//  - compose: every service has a healthcheck, the stages wait for healthy dependencies,
//    Redis runs with AOF and noeviction, Prometheus scrapes all three stages
//  - the Dockerfile: multi-stage, npm ci in the build stage, non-root runtime, entrypoint riskpipe
// With --rules OUT it also writes every dashboard query as a recording rule, so that
// `promtool check rules OUT` parses each PromQL expression.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import YAML from 'yaml';

// DEPLOY_ROOT: check a copy elsewhere (the test breaks a copy on purpose).
const root = process.env.DEPLOY_ROOT ? new URL(`file://${process.env.DEPLOY_ROOT.replace(/\/?$/, '/')}`) : new URL('../', import.meta.url);
const read = (p) => readFileSync(new URL(p, root), 'utf8');
const problems = [];
const check = (ok, msg) => { if (!ok) problems.push(msg); };

// ---- Grafana dashboard --------------------------------------------------------------------
const target = {
  type: 'object',
  required: ['refId', 'expr', 'datasource'],
  properties: { refId: { type: 'string', minLength: 1 }, expr: { type: 'string', minLength: 1 }, legendFormat: { type: 'string' } },
};
const gridPos = {
  type: 'object',
  required: ['x', 'y', 'w', 'h'],
  properties: { x: { type: 'integer', minimum: 0, maximum: 23 }, y: { type: 'integer', minimum: 0 }, w: { type: 'integer', minimum: 1, maximum: 24 }, h: { type: 'integer', minimum: 1 } },
};
const dashboardSchema = {
  type: 'object',
  required: ['uid', 'title', 'schemaVersion', 'panels', 'time', 'refresh'],
  properties: {
    uid: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,40}$' },
    title: { type: 'string', minLength: 1 },
    schemaVersion: { type: 'integer', minimum: 30 },
    refresh: { type: 'string' },
    time: { type: 'object', required: ['from', 'to'] },
    panels: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['id', 'type', 'title', 'gridPos'],
        properties: {
          id: { type: 'integer', minimum: 1 },
          type: { enum: ['row', 'timeseries', 'stat', 'gauge', 'table', 'bargauge', 'text', 'logs'] },
          title: { type: 'string', minLength: 1 },
          gridPos,
          datasource: { type: 'object', required: ['type', 'uid'] },
          targets: { type: 'array', items: target },
        },
        if: { properties: { type: { not: { const: 'row' } } } },
        then: { required: ['datasource', 'targets'], properties: { targets: { type: 'array', minItems: 1 } } },
      },
    },
  },
};
const ajv = new Ajv({ allErrors: true });
const validate = ajv.compile(dashboardSchema);
const dashboard = JSON.parse(read('compose/grafana/dashboards/riskpipe.json'));
if (!validate(dashboard)) for (const e of validate.errors) problems.push(`dashboard${e.instancePath}: ${e.message}`);
const ids = dashboard.panels.map((p) => p.id);
check(new Set(ids).size === ids.length, 'dashboard: panel ids are not unique');
for (const p of dashboard.panels) {
  if (p.gridPos && p.gridPos.x + p.gridPos.w > 24) problems.push(`dashboard panel "${p.title}": wider than the 24-column grid`);
}
const datasources = YAML.parse(read('compose/grafana/provisioning/datasources/datasources.yml')).datasources;
const dsUids = new Set(datasources.map((d) => d.uid));
for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
  for (const ds of [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]) {
    check(ds && dsUids.has(ds.uid), `dashboard panel "${p.title}": datasource uid ${ds?.uid} is not provisioned`);
  }
}
const providers = YAML.parse(read('compose/grafana/provisioning/dashboards/dashboards.yml')).providers;
const wanted = ['stream depth', 'lag', 'throughput', 'category', 'latency', 'dead letter', 'rejection'];
const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
for (const w of wanted) check(titles.includes(w), `dashboard: no panel about "${w}"`);

// Every metric a query names is one the code declares (a renamed metric leaves an empty panel).
const declared = new Set();
const walk = (dir) => {
  for (const e of readdirSync(new URL(dir, root), { withFileTypes: true })) {
    if (e.isDirectory()) walk(`${dir}${e.name}/`);
    else if (/\.tsx?$/.test(e.name)) for (const m of read(`${dir}${e.name}`).matchAll(/'(riskpipe_[a-z0-9_]+)'/g)) declared.add(m[1]);
  }
};
if (!process.env.DEPLOY_ROOT) {
  walk('src/');
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      for (const [m] of t.expr.matchAll(/riskpipe_[a-z0-9_]+/g)) {
        const base = m.replace(/_(bucket|sum|count)$/, '');
        check(declared.has(m) || declared.has(base), `dashboard panel "${p.title}": metric ${m} is not declared anywhere in src/`);
      }
    }
  }
}

// ---- compose ------------------------------------------------------------------------------
const compose = YAML.parse(read('compose/docker-compose.yml'), { merge: true });
const services = compose.services;
for (const [name, svc] of Object.entries(services)) {
  const oneShot = svc.restart === 'no';
  check(oneShot || svc.healthcheck?.test, `compose ${name}: no healthcheck`);
  for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
    const c = cond?.condition;
    check(c === 'service_healthy' || c === 'service_completed_successfully', `compose ${name}: depends_on ${dep} does not wait for health (${c})`);
    check(services[dep], `compose ${name}: depends_on unknown service ${dep}`);
  }
}
const redisCmd = (services.redis?.command ?? []).join(' ');
check(/--appendonly yes/.test(redisCmd), 'compose redis: AOF is not on');
check(/--maxmemory-policy noeviction/.test(redisCmd), 'compose redis: maxmemory-policy is not noeviction');
check(!/curl|wget/.test(JSON.stringify(services.qdrant?.healthcheck ?? {})), 'compose qdrant: its image has no curl/wget');
for (const s of ['ingest', 'screen-worker', 'index-worker']) check(services[s], `compose: no ${s} service`);
const mounts = (services.grafana?.volumes ?? []).join(' ');
for (const pr of providers) check(mounts.includes(`:${pr.options.path}`), `compose grafana: dashboards path ${pr.options.path} is not mounted`);
const prom = YAML.parse(read('compose/prometheus/prometheus.yml'));
const scraped = JSON.stringify(prom.scrape_configs);
for (const [svc, port] of [['ingest', 8001], ['screen-worker', 8002], ['index-worker', 8003]]) {
  check(scraped.includes(svc) && scraped.includes(String(port)), `prometheus: does not scrape ${svc}:${port}`);
}

// ---- Dockerfile ---------------------------------------------------------------------------
const dockerfile = read('Dockerfile').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
const stages = dockerfile.split(/^FROM /m).slice(1);
check(stages.length >= 2, 'Dockerfile: not multi-stage');
check(/npm ci/.test(stages[0] ?? ''), 'Dockerfile: the build stage does not run npm ci');
const last = stages.at(-1) ?? '';
const user = [...last.matchAll(/^USER\s+(\S+)/gm)].at(-1)?.[1];
check(user && user !== 'root' && user !== '0', 'Dockerfile: the runtime stage runs as root');
check(/^ENTRYPOINT \["riskpipe"\]/m.test(last), 'Dockerfile: entrypoint is not riskpipe');
check(!/npm (ci|install)/.test(last), 'Dockerfile: the runtime stage installs packages');

// ---- PromQL of the dashboard as recording rules, for promtool --------------------------------
const rulesAt = process.argv.indexOf('--rules');
if (rulesAt > 0) {
  const rules = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t, i) => ({ record: `riskpipe_dashboard:panel_${p.id}_${i}`, expr: t.expr })));
  writeFileSync(process.argv[rulesAt + 1], YAML.stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
}

if (problems.length > 0) {
  console.error(`check-deploy: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-deploy: dashboard (${dashboard.panels.length} panels), compose (${Object.keys(services).length} services), prometheus, Dockerfile: ok`);
