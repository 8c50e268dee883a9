import { describe, expect, it } from 'vitest';
import { jsonDepthExcess } from '../../src/core/json-budget.js';

describe('JSON depth budget (a linear scan of the text, no recursion)', () => {
  it('counts arrays and objects, not brackets inside strings or after escapes', () => {
    expect(jsonDepthExcess('{"a":[1,{"b":2}]}', 3)).toBeNull();
    expect(jsonDepthExcess('{"a":[1,{"b":2}]}', 2)).toEqual({ depth: 3, at: 8 });
    expect(jsonDepthExcess(`{"s":"${'[{'.repeat(500)}"}`, 1)).toBeNull();
    expect(jsonDepthExcess('{"s":"\\"[[[[","t":1}', 1)).toBeNull();
    expect(jsonDepthExcess('{"s":"\\\\","t":[[1]]}', 2)).toEqual({ depth: 3, at: 15 }); // an escaped backslash ends no string
  });

  it('siblings do not add up; 10^6 levels answer at once', () => {
    expect(jsonDepthExcess(`[${'[],'.repeat(10_000)}[]]`, 2)).toBeNull();
    const t0 = performance.now();
    expect(jsonDepthExcess('['.repeat(1_000_000), 64)).toEqual({ depth: 65, at: 64 });
    expect(performance.now() - t0).toBeLessThan(100);
  });
});
