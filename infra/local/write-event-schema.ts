/**
 * `npx tsx infra/local/write-event-schema.ts`: regenerate functions/events/lifecycle-event.schema.json (the
 * lifecycle events' `detail` as JSON Schema) from the zod schema the publisher validates with. Commit the
 * result; test/unit/lifecycle-events.test.ts fails while the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detailJsonSchema } from '../../functions/events/lifecycle-events';

writeFileSync(join(__dirname, '..', '..', 'functions', 'events', 'lifecycle-event.schema.json'), detailJsonSchema());
process.stdout.write('wrote functions/events/lifecycle-event.schema.json\n');
