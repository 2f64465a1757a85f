/** Every matrix suite on Debian's postgresql-15 (the build most other integration tests use). */
import { runMatrix } from './matrix';

runMatrix({ major: 15, source: 'debian', label: 'Debian PG15' });
