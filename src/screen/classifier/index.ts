/*
 * The screening classifier: features (./features.ts), the model and its files (./model.ts),
 * training (./train.ts). `loadClassifier` is what the Screener and the CLI call.
 */
import { loadGlove, type GloveLoadOptions } from '../../embed/glove-vectors.js';
import { DEFAULT_CLASSIFIER_DIR, loadClassifierWeights, ScreeningClassifier } from './model.js';

export { DEFAULT_CLASSIFIER_DIR, ScreeningClassifier, type Classify, type ClassifierOutput } from './model.js';

/**
 * The classifier in `dir` (default: the shipped one, data/models/screening/) with the word vectors
 * it was trained on (converted from node_modules on first use, then one read of ~17 MB).
 */
export async function loadClassifier(dir: string = DEFAULT_CLASSIFIER_DIR, glove: GloveLoadOptions = {}): Promise<ScreeningClassifier> {
  const weights = loadClassifierWeights(dir);
  const vectors = loadGlove(glove);
  if (vectors.dim !== weights.spec.gloveDim) throw new Error(`classifier in ${dir} expects ${weights.spec.gloveDim}-dimensional word vectors, found ${vectors.dim}`);
  return new ScreeningClassifier(weights, vectors);
}
