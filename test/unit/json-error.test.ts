import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonErrorOffset, lineColumn } from '../../src/config/json-error.js';

describe('where a config file stops being JSON', () => {
  it('finds the place of common mistakes, as a line and column', () => {
    const at = (t: string) => lineColumn(t, jsonErrorOffset(t));
    expect(at('{\n  "a": 1,\n  "b": }')).toEqual({ line: 3, column: 8 });
    expect(at('{\n  "a": 1,\n}')).toEqual({ line: 3, column: 1 }); // trailing comma
    expect(at('{"a": 1 "b": 2}')).toEqual({ line: 1, column: 9 }); // missing comma
    expect(at("{'a': 1}")).toEqual({ line: 1, column: 2 }); // single quotes
    expect(at('{"a": [1, 2}')).toEqual({ line: 1, column: 12 });
    expect(jsonErrorOffset('{"a": tru}')).toBe(6);
    expect(jsonErrorOffset('{"a": 1}  x')).toBe(10);
    expect(jsonErrorOffset('{"a": ')).toBe(6); // ends too early
  });

  it('agrees with JSON.parse on what is JSON (and nests deep without recursion)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(jsonErrorOffset(JSON.stringify(v, null, 1))).toBe(-1);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (t) => {
        let valid = true;
        try {
          JSON.parse(t);
        } catch {
          valid = false;
        }
        expect(jsonErrorOffset(t) === -1).toBe(valid);
      }),
    );
    expect(jsonErrorOffset('['.repeat(200_000) + ']'.repeat(200_000))).toBe(-1);
  });
});
