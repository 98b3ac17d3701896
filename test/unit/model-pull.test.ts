import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RiskpipeError } from '../../src/common/errors.js';
import { pullModel } from '../../src/embed/onnx.js';
import { main } from '../../src/cli/index.js';

/*
 * `riskpipe model pull` against a stand-in for the Hugging Face hub that answers the hub's URLs:
 *   GET /api/models/<repo>/tree/<rev>?recursive=true   the file list with sizes, LFS sha256 and git blob sha1
 *   GET /<repo>/resolve/<rev>/<file>                   the content, honouring Range (206)
 */
const FILES: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type":"bert","hidden_size":8}'),
  'tokenizer.json': Buffer.from(JSON.stringify({ version: '1.0', model: { vocab: { a: 0 } } })),
  'tokenizer_config.json': Buffer.from('{"do_lower_case":true}'),
  'onnx/model.onnx': randomBytes(300_000),
};
const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: Server;
let host: string;
let dir: string;
const requests: { url: string; range?: string }[] = [];
/** Files served corrupted (same size, other bytes). */
const corrupt = new Set<string>();
let treeStatus = 200;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-pull-'));
  server = createServer((req, res) => {
    const url = req.url ?? '';
    requests.push({ url, range: req.headers.range });
    if (url.startsWith('/api/models/acme/tiny/tree/main')) {
      if (treeStatus !== 200) return void res.writeHead(treeStatus).end('{}');
      const list = Object.entries(FILES).map(([path, b]) =>
        path.endsWith('.onnx') ? { type: 'file', path, size: b.length, oid: gitSha1(Buffer.from('pointer')), lfs: { oid: sha256(b), size: b.length, pointerSize: 130 } } : { type: 'file', path, size: b.length, oid: gitSha1(b) },
      );
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ type: 'directory', path: 'onnx', oid: 'x', size: 0 }, ...list]));
    }
    const m = /^\/acme\/tiny\/resolve\/main\/(.+)$/.exec(url);
    const file = m ? decodeURIComponent(m[1]) : '';
    let body = FILES[file];
    if (!body) return void res.writeHead(404).end('Entry not found');
    if (corrupt.has(file)) body = Buffer.from(body.map((x) => x ^ 0xff));
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      if (start >= body.length) return void res.writeHead(416).end();
      return void res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` }).end(body.subarray(start));
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  requests.length = 0;
  corrupt.clear();
  treeStatus = 200;
});

const modelError = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as RiskpipeError);

describe('pullModel from the hub', () => {
  it('downloads every file, checked against the sizes and checksums of the hub file list, with progress', async () => {
    const progress: Record<string, number[]> = {};
    const folder = await pullModel('acme/tiny', join(dir, 'a'), { remoteHost: host, verify: 'required', onProgress: (f, done, total) => (progress[f] ??= []).push(done, total ?? -1) });
    for (const [f, b] of Object.entries(FILES)) expect(readFileSync(join(folder, f)).equals(b)).toBe(true);
    expect(requests[0].url).toBe('/api/models/acme/tiny/tree/main?recursive=true');
    const onnx = progress['model.onnx'];
    expect(onnx.at(-2)).toBe(FILES['onnx/model.onnx'].length);
    expect(onnx.at(-1)).toBe(FILES['onnx/model.onnx'].length);
  });

  it('a second pull finds the files intact and fetches nothing', async () => {
    await pullModel('acme/tiny', join(dir, 'b'), { remoteHost: host });
    requests.length = 0;
    await pullModel('acme/tiny', join(dir, 'b'), { remoteHost: host });
    expect(requests.filter((r) => r.url.includes('/resolve/'))).toEqual([]);
  });

  it('resumes a partial download with a Range request', async () => {
    const dest = join(dir, 'c', 'acme/tiny', 'onnx/model.onnx');
    mkdirSync(dirname(dest), { recursive: true });
    const half = FILES['onnx/model.onnx'].subarray(0, 120_000);
    writeFileSync(`${dest}.part`, half);
    await pullModel('acme/tiny', join(dir, 'c'), { remoteHost: host, verify: 'required' });
    const r = requests.find((x) => x.url.endsWith('/onnx/model.onnx'));
    expect(r?.range).toBe('bytes=120000-');
    expect(readFileSync(dest).equals(FILES['onnx/model.onnx'])).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('refuses a file whose checksum differs from the hub list, and leaves nothing behind', async () => {
    corrupt.add('onnx/model.onnx');
    const err = await modelError(pullModel('acme/tiny', join(dir, 'd'), { remoteHost: host, verify: 'required' }));
    expect(err).toBeInstanceOf(RiskpipeError);
    expect(err?.message).toMatch(/checksum mismatch/);
    expect(existsSync(join(dir, 'd', 'acme/tiny', 'onnx/model.onnx'))).toBe(false);
    expect(existsSync(join(dir, 'd', 'acme/tiny', 'onnx/model.onnx.part'))).toBe(false);
    corrupt.clear();
    corrupt.add('config.json'); // a git-stored file: checked by its blob sha1
    expect((await modelError(pullModel('acme/tiny', join(dir, 'd2'), { remoteHost: host })))?.message).toMatch(/checksum mismatch/);
  });

  it("without the hub's file list: an error when verification is required, unverified otherwise", async () => {
    treeStatus = 404;
    expect((await modelError(pullModel('acme/tiny', join(dir, 'e'), { remoteHost: host, verify: 'required' })))?.message).toMatch(/file list/);
    const folder = await pullModel('acme/tiny', join(dir, 'e2'), { remoteHost: host, verify: 'if-available' });
    expect(readFileSync(join(folder, 'config.json')).equals(FILES['config.json'])).toBe(true);
  });
});

describe('riskpipe model pull', () => {
  it('pulls into --dir from --hub-url and says where', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const errWrite = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      const code = await main(['node', 'riskpipe', 'model', 'pull', '--model', 'acme/tiny', '--dir', join(dir, 'cli'), '--hub-url', host]);
      expect(code).toBe(0);
    } finally {
      process.stdout.write = write;
      process.stderr.write = errWrite;
    }
    expect(out.join('')).toMatch(/acme\/tiny ready in .*cli\/acme\/tiny \(sizes and checksums match the hub\)/);
    expect(readFileSync(join(dir, 'cli', 'acme/tiny', 'onnx/model.onnx')).equals(FILES['onnx/model.onnx'])).toBe(true);
  });
});
