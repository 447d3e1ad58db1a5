/**
 * The generated schema validator is current: what gen-schema-validator.ts writes from schema.ts
 * today is byte for byte the committed file (else: `npx tsx descriptor/gen-schema-validator.ts`).
 * Its behaviour is what the rest of the descriptor tests check, through validateDescriptor.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { GENERATED_PATH, schemaValidatorSource } from './gen-schema-validator.js';

describe('descriptor generated schema validator', () => {
  it('is up to date with schema.ts', () => {
    const committed = readFileSync(GENERATED_PATH, 'utf8');
    assert.ok(committed === schemaValidatorSource(), 'descriptor/schema-validator.gen.ts is out of date: run npx tsx descriptor/gen-schema-validator.ts');
  });
});
