// Runs the CLI from the sources (through tsx), for tests that need a real worker process without a build.
import { main } from '../../src/cli/index.js';

process.exitCode = await main(process.argv);
