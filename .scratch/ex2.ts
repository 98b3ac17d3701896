import { main } from '../src/cli/index.js';
process.exitCode = await main(['node','riskpipe','explain','--json','--text', process.argv[2]]);
