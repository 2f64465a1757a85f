// Runs the pgpulse CLI from source (tests spawn this with node --import tsx).
import { main } from '../../../src/sidecar/cli/main';
import { runAct } from '../../../src/sidecar/cli/commands';

const argv = process.argv.slice(2);
// `act` is not wired into cli/main.ts yet (the lead owns it): dispatch it here
(argv[0] === 'act' ? runAct(argv.slice(1)) : main(argv)).then(
  (code) => {
    process.exitCode = code ?? 0;
  },
  (e: Error) => {
    process.stderr.write(`pgpulse: ${e.message}\n`);
    process.exitCode = 1;
  }
);
