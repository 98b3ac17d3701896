import { scenario } from './up-scenario.js';

/* `riskpipe up` end to end on its embedded defaults: in-process bus journaled to the data dir, PGlite, embedded index (up-scenario.ts). */
scenario({ name: 'embedded defaults', env: () => ({}) });
